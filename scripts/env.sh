# shellcheck shell=bash
# Sourced by the scripts in this folder: the ansible-core lines the collection is tested on, one
# virtualenv per line with pinned packages (tests/requirements/core-<line>.txt), and the collection
# staged as ansible_collections/smsbox/account, which ansible-test and ansible-playbook expect.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENVS=${SMSBOX_VENVS:-$ROOT/.venv}
BUILD=${SMSBOX_BUILD:-$ROOT/.build}

# The matrix is the pin files: tests/requirements/core-<line>.txt is one ansible-core line, and declares
# in its header the Python it runs on ("# python: 3.13") and the stages scripts/test.sh runs on it
# ("# stages: units doc"). Adding a line is adding its pin file.
PINS=$ROOT/tests/requirements
# header_field FILE NAME: the value of the "# NAME: value" line in FILE's header.
header_field() {
    sed -n "s/^# $2: *//p" "$1" | head -n 1
}
MATRIX_STAGES=(sanity units integration doc)               # on the lines that declare them
ONCE_STAGES=(lint molecule changelog docsite galaxy ee eda nox)  # on the main line only
CORE_MATRIX=()             # LINE:PYTHON, oldest line first
declare -A CORE_STAGES=()  # LINE -> the stages it runs
# The main line: the one line whose pin file declares the once-only stages (and pins their tools).
MAIN_CORE=""
read_matrix() {
    local pins line python_version stages stage
    for pins in $(printf '%s\n' "$PINS"/core-*.txt | sort -V); do
        line=${pins##*/core-}
        line=${line%.txt}
        python_version=$(header_field "$pins" python)
        stages=$(header_field "$pins" stages)
        if [[ -z $python_version || -z $stages ]]; then
            echo "$pins: its header must declare '# python: X.Y' and '# stages: ...'" >&2
            return 2
        fi
        CORE_MATRIX+=("$line:$python_version")
        # shellcheck disable=SC2034  # read by the scripts that source this file
        CORE_STAGES[$line]=$stages
        for stage in $stages; do
            if [[ " ${ONCE_STAGES[*]} " == *" $stage "* && $MAIN_CORE != "$line" ]]; then
                [[ -z $MAIN_CORE ]] || { echo "once-only stages declared on two lines: $MAIN_CORE and $line" >&2; return 2; }
                MAIN_CORE=$line
            elif [[ " ${MATRIX_STAGES[*]} ${ONCE_STAGES[*]} " != *" $stage "* ]]; then
                echo "$pins: unknown stage $stage" >&2
                return 2
            fi
        done
    done
    [[ -n $MAIN_CORE ]] || { echo "no pin file under $PINS declares the once-only stages (${ONCE_STAGES[*]})" >&2; return 2; }
}
read_matrix
# make demo and make bench run on this line (the bench figures in the README were measured on it).
DEFAULT_CORE=2.19

# core_python LINE: the Python version that line runs on.
core_python() {
    local entry
    for entry in "${CORE_MATRIX[@]}"; do
        [[ ${entry%%:*} != "$1" ]] || { echo "${entry#*:}"; return 0; }
    done
    echo "unknown ansible-core line: $1" >&2
    return 1
}

say() { printf '\n=== %s\n' "$*"; }

# find_python X.Y: prints the path of a working Python X.Y with venv, or fails. A pyenv shim on PATH may
# exist yet refuse to run (that version not selected), so each candidate is run before it is chosen.
find_python() {
    local want=$1 override candidate found
    override=SMSBOX_PYTHON_${want//./_}
    local candidates=("${!override:-}")
    candidate=$(command -v "python$want" 2>/dev/null) && candidates+=("$candidate")
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/"python$want" \
        "$HOME"/.pyenv/versions/"$want".*/bin/"python$want" /usr/local/bin/"python$want" /usr/bin/"python$want"; do
        candidates+=("$candidate")
    done
    for candidate in "${candidates[@]}"; do
        [[ -n $candidate && -x $candidate ]] || continue
        found=$("$candidate" -c 'import sys, venv, ensurepip; print("%d.%d %s" % (sys.version_info[0], sys.version_info[1], sys.executable))' 2>/dev/null) || continue
        if [[ ${found%% *} == "$want" ]]; then
            echo "${found#* }"
            return 0
        fi
    done
    return 1
}

# ensure_venv [LINE]: $VENVS/core-LINE holds exactly tests/requirements/core-LINE.txt.
ensure_venv() {
    ensure_pinned_venv "core-${1:-$DEFAULT_CORE}"
}

# ensure_pinned_venv NAME: $VENVS/NAME holds exactly tests/requirements/NAME.txt, on the Python its header
# declares ("# python: X.Y"). Parallel jobs wait for each other here (flock), so a venv is built once.
ensure_pinned_venv() {
    local name=$1 version python venv requirements stamp want
    venv=$VENVS/$name
    requirements=$PINS/$name.txt
    version=$(header_field "$requirements" python)
    python=$(find_python "$version") || {
        echo "no Python $version for tests/requirements/$name.txt" >&2
        return 1
    }
    stamp=$venv/.requirements.sha256
    # The pins, not the header's comments: declaring another stage does not rebuild the venv.
    want="$(grep -v '^#' "$requirements" | sha256sum | cut -d' ' -f1) $python"
    mkdir -p "$VENVS"
    (
        flock 9
        if [[ ! -x $venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
            echo "Installing tests/requirements/$name.txt into $venv ($python)"
            rm -f "$stamp"
            "$python" -m venv --clear "$venv"
            "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" 2>&1 \
                | { grep -v "^WARNING: Location 'file:" || true; }
            echo "$want" > "$stamp"
        fi
    ) 9> "$VENVS/$name.lock"
}

# use_core [LINE]: that line's tools first on PATH.
use_core() {
    VENV=$VENVS/core-${1:-$DEFAULT_CORE}
    export PATH=$VENV/bin:$PATH
}

# stage_collection [DIR]: copies the working tree to DIR/ansible_collections/smsbox/account (STAGED).
stage_collection() {
    COLLECTIONS=${1:-$BUILD/collections}
    STAGED=$COLLECTIONS/ansible_collections/smsbox/account
    rm -rf "$STAGED"
    mkdir -p "$STAGED"
    tar -C "$ROOT" --exclude=./.venv --exclude=./.build --exclude=./.git --exclude=./tests/output --exclude=./.nox --exclude=./dist \
        --exclude='__pycache__' --exclude=./.pytest_cache --exclude='./*.tar.gz' -cf - . | tar -C "$STAGED" -xf -
    # ansible-test lists a collection's files with git; the staged copy must be its own repository.
    git -C "$STAGED" init --quiet
    git -C "$STAGED" add --all
    export ANSIBLE_COLLECTIONS_PATH=$COLLECTIONS
}

# bash scripts/env.sh COMMAND [ARGS]: COMMAND run with the tools of the line $CORE (default DEFAULT_CORE) first on PATH
# and the collection staged; make bench runs `python scripts/bench.py` so.
if [[ ${BASH_SOURCE[0]} == "$0" && $# -gt 0 ]]; then
    ensure_venv "${CORE:-$DEFAULT_CORE}"
    use_core "${CORE:-$DEFAULT_CORE}"
    stage_collection
    exec "$@"
fi
