#!/usr/bin/env bash
# The release of a version, in one command (docs/releasing.md is the procedure around it).
#
# Usage: scripts/release.sh version VERSION   set VERSION in galaxy.yml, _version.py and wherever a file names the release
#                                             (the tarball smsbox-account-X.Y.Z.tar.gz, the EE and DE image tags,
#                                             the README's requirements.yml range); nothing else
#        scripts/release.sh release VERSION   (make release VERSION=X.Y.Z) on a clean main: the above,
#                                             antsibull-changelog release, the release checks (scripts/test.sh
#                                             sanity changelog galaxy ee lint docsite nox), a commit "Release X.Y.Z", the tag
#                                             X.Y.Z and the tarball in dist/; pushes and publishes nothing
#        scripts/release.sh publish VERSION   publish dist/smsbox-account-VERSION.tar.gz to Ansible Galaxy
#                                             (GALAXY_API_KEY) and, when AH_TOKEN is set, to Automation Hub
#                                             (AH_URL and AH_AUTH_URL: default console.redhat.com's; a private hub's)
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT" || exit 1

usage() {
    sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
ACTION=$1
VERSION=$2
[[ $VERSION =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || { echo "not a semantic version X.Y.Z: $VERSION" >&2; exit 2; }
MAJOR=${BASH_REMATCH[1]}
TARBALL=dist/smsbox-account-$VERSION.tar.gz

set_version() {
    local files
    sed -i -E "s/^version: .*/version: $VERSION/" galaxy.yml
    # The version the modules send in their User-Agent (tests/unit/test_version.py keeps the two equal).
    sed -i -E "s/^COLLECTION_VERSION = .*/COLLECTION_VERSION = '$VERSION'/" plugins/module_utils/_version.py
    mapfile -t files < <(git grep -lE 'smsbox-account-[0-9]+\.[0-9]+\.[0-9]+\.tar\.gz|smsbox-[ed]e:[0-9]+\.[0-9]+\.[0-9]+' \
        -- ':!changelogs' ':!CHANGELOG.rst')
    [[ ${#files[@]} -eq 0 ]] || sed -i -E \
        -e "s/smsbox-account-[0-9]+\.[0-9]+\.[0-9]+\.tar\.gz/smsbox-account-$VERSION.tar.gz/g" \
        -e "s/smsbox-([ed]e):[0-9]+\.[0-9]+\.[0-9]+/smsbox-\1:$VERSION/g" "${files[@]}"
    # The README pins the collection to the current major version, as users should.
    sed -i -E "s/version: \">=[0-9]+\.[0-9]+\.[0-9]+,<[0-9]+\.0\.0\"/version: \">=$MAJOR.0.0,<$((MAJOR + 1)).0.0\"/" README.md
    git diff --stat
}

release() {
    [[ -z $(git status --porcelain) ]] || { echo "the working tree has changes: commit or stash them first" >&2; exit 1; }
    ! git rev-parse -q --verify "refs/tags/$VERSION" >/dev/null || { echo "tag $VERSION exists already" >&2; exit 1; }
    set_version
    ensure_venv "$MAIN_CORE"
    use_core "$MAIN_CORE"
    # Every fragment under changelogs/fragments becomes the VERSION section of changelog.yaml and CHANGELOG.rst.
    antsibull-changelog release --version "$VERSION"
    git add --all
    git commit -q -m "Release $VERSION"
    # The release checks on the release commit (the full matrix ran in CI on what it releases): sanity on the main
    # line, and the once-only stages that look at what is released.
    CORE=$MAIN_CORE bash scripts/test.sh sanity changelog galaxy ee lint docsite nox || {
        echo "the release checks failed: the commit \"Release $VERSION\" is not tagged (git reset --hard HEAD~1 to undo it)" >&2
        exit 1
    }
    git tag -a "$VERSION" -m "smsbox.account $VERSION"
    mkdir -p dist
    ansible-galaxy collection build --force --output-path dist
    echo "Released $VERSION: commit $(git rev-parse --short HEAD), tag $VERSION, $TARBALL."
    echo "Next: git push origin main $VERSION; then scripts/release.sh publish $VERSION (docs/releasing.md)."
}

publish() {
    [[ -f $TARBALL ]] || { echo "$TARBALL not found: run scripts/release.sh release $VERSION first" >&2; exit 1; }
    ensure_venv "$MAIN_CORE"
    use_core "$MAIN_CORE"
    [[ -n ${GALAXY_API_KEY:-} ]] || { echo "GALAXY_API_KEY is not set (galaxy.ansible.com, Collections > API token)" >&2; exit 1; }
    ansible-galaxy collection publish "$TARBALL" --server https://galaxy.ansible.com/api/ --token "$GALAXY_API_KEY"
    if [[ -n ${AH_TOKEN:-} ]]; then
        # Automation Hub takes an offline token from console.redhat.com, exchanged at Red Hat SSO (auth_url; an empty
        # AH_AUTH_URL for a private hub, whose token needs no exchange): a server entry given through ansible-galaxy's
        # environment variables, as ansible.cfg would give it.
        ANSIBLE_GALAXY_SERVER_LIST=automation_hub \
            ANSIBLE_GALAXY_SERVER_AUTOMATION_HUB_URL=${AH_URL:-https://console.redhat.com/api/automation-hub/} \
            ANSIBLE_GALAXY_SERVER_AUTOMATION_HUB_AUTH_URL=${AH_AUTH_URL-https://sso.redhat.com/auth/realms/redhat-external/protocol/openid-connect/token} \
            ANSIBLE_GALAXY_SERVER_AUTOMATION_HUB_TOKEN=$AH_TOKEN \
            ansible-galaxy collection publish "$TARBALL" --server automation_hub
    else
        echo "AH_TOKEN not set: not published to Automation Hub (docs/releasing.md)"
    fi
}

case $ACTION in
    version) set_version ;;
    release) release ;;
    publish) publish ;;
    *) usage ;;
esac
