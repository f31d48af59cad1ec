# The two commands of the quick start, and the pieces of the second one.
.PHONY: demo test sanity lint units integration molecule bench clean

demo:  ## provision the example inventories on the local SMSBOX emulator (no account, no network)
	bash scripts/demo.sh

test:  ## every test: sanity, lint, unit, integration, molecule
	bash scripts/test.sh

sanity lint units integration molecule:
	bash scripts/test.sh $@

bench:  ## speed and memory figures
	bash scripts/bench.sh

clean:
	rm -rf .build tests/output
