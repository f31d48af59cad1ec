# The two commands of the quick start, and the pieces of the second one.
# One stage on some lines: make units CORE=2.19   (CORE="2.16 2.21", JOBS=2: see scripts/test.sh)
.PHONY: demo demo-up demo-down test sanity units integration doc lint molecule changelog docsite galaxy ee eda nox bench release publish clean

demo:  ## provision the example inventories on the local SMSBOX emulator (no account, no network)
	bash scripts/demo.sh

demo-up:  ## the demo's emulator and first run, left up: play with .build/demo/play --check (see examples/README.md)
	bash scripts/demo.sh up

demo-down:  ## stop the emulator of make demo-up
	bash scripts/demo.sh down

test:  ## every test: the ansible-core matrix (sanity, units, integration, doc), then lint, molecule, release checks
	bash scripts/test.sh

sanity units integration doc lint molecule changelog docsite galaxy ee eda nox:
	bash scripts/test.sh $@

bench:  ## speed and memory figures against the targets of docs/performance.md (BENCH_QUICK=1: a smaller run; BENCH_PROFILE=1: where the time goes)
	bash scripts/env.sh python scripts/bench.py

release:  ## the release VERSION=X.Y.Z: version, changelog, release checks, commit, tag, tarball in dist/ (docs/releasing.md)
	bash scripts/release.sh release $(VERSION)

publish:  ## publish dist/smsbox-account-$(VERSION).tar.gz to Galaxy (GALAXY_API_KEY) and Automation Hub (AH_TOKEN)
	bash scripts/release.sh publish $(VERSION)

clean:
	rm -rf .build tests/output
