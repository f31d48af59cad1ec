# shellcheck shell=bash
# Sourced by the scripts in this folder: one virtualenv with pinned packages, and the collection
# staged as ansible_collections/smsbox/account, which ansible-test and ansible-playbook expect.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${SMSBOX_VENV:-$ROOT/.venv}
BUILD=${SMSBOX_BUILD:-$ROOT/.build}
COLLECTIONS=$BUILD/collections
STAGED=$COLLECTIONS/ansible_collections/smsbox/account
PYTHON=${PYTHON:-python3}
EMULATOR=$ROOT/tests/emulator/smsbox_emulator.py
export PATH=$VENV/bin:$PATH

say() { printf '\n=== %s\n' "$*"; }

ensure_venv() {
    local stamp=$VENV/.requirements.sha256 want
    want=$(sha256sum "$ROOT/tests/requirements.txt" | cut -d' ' -f1)
    if [[ ! -x $VENV/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
        say "Installing the pinned test tools into $VENV"
        "$PYTHON" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/tests/requirements.txt" 2>&1 \
            | { grep -v "^WARNING: Location 'file:" || true; }
        echo "$want" > "$stamp"
    fi
}

stage_collection() {
    rm -rf "$STAGED"
    mkdir -p "$STAGED"
    tar -C "$ROOT" --exclude=./.venv --exclude=./.build --exclude=./.git --exclude=./tests/output \
        --exclude='__pycache__' --exclude=./.pytest_cache -cf - . | tar -C "$STAGED" -xf -
    # ansible-test lists a collection's files with git; the staged copy must be its own repository.
    git -C "$STAGED" init --quiet
    git -C "$STAGED" add --all
    export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
}
