# shellcheck shell=bash
# Sourced by scripts/test.sh: the Java runtime that ansible-rulebook's rule engine (Drools, through jpy) needs,
# 17 or newer, for the eda stage.
#
#   java_ensure   returns at once when a Java 17+ runtime is on PATH (or in JAVA_HOME); else, as root, installs
#                 Debian's openjdk-17-jre-headless (apt-get update first; openjdk-21-jre-headless where the
#                 release has no 17); else says what to install and fails.

java_version() {
    local java=${JAVA_HOME:+$JAVA_HOME/bin/}java
    command -v "$java" >/dev/null 2>&1 || return 1
    "$java" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2; exit}'
}

java_ok() {
    local version
    version=$(java_version) || return 1
    [[ -n $version && ${version%%.*} -ge 17 ]]
}

java_ensure() {
    local package
    java_ok && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "java.sh: ansible-rulebook needs a Java 17+ runtime: install openjdk-17-jre-headless (or set JAVA_HOME)" >&2
        return 1
    fi
    echo "java.sh: installing a Java runtime for ansible-rulebook (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || return 1
    for package in openjdk-17-jre-headless openjdk-21-jre-headless; do
        if apt-cache show "$package" >/dev/null 2>&1; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$package" >&2 || return 1
            break
        fi
    done
    java_ok || { echo "java.sh: still no Java 17+ runtime on PATH after apt-get" >&2; return 1; }
}
