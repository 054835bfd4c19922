#!/usr/bin/env bash
# LanguageTool (English rules), the grammar checker tests/test_language.py runs over every rendered
# question stem, obtained from Maven Central (org.languagetool:language-en; see languagetool/pom.xml).
#
# usage: scripts/languagetool.sh install|check [RULE_ID...]|path
#   install   fetch the jars (once per version) into .languagetool/lib-<version> (gitignored)
#   check     read one text per line on stdin, print one tab-separated line per grammar match:
#             line (0-based), rule id, offset, length, matched text, message (spelling rules are off;
#             each RULE_ID given is disabled too)
#   path      print the jar directory (empty output and exit 1 if not installed)
#
# environment: KGSYNTH_LANGUAGETOOL_HEAP (default 512m)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POM="$ROOT/scripts/languagetool/pom.xml"
RUNNER="$ROOT/scripts/languagetool/CheckText.java"
VERSION=$(sed -n 's:.*<languagetool.version>\(.*\)</languagetool.version>.*:\1:p' "$POM")
LIB_DIR="$ROOT/.languagetool/lib-$VERSION"
HEAP=${KGSYNTH_LANGUAGETOOL_HEAP:-512m}

log() { echo "languagetool.sh: $*" >&2; }

install() {
    if [[ ! -f "$LIB_DIR/.complete" ]]; then
        log "fetching LanguageTool $VERSION (English) from Maven Central"
        rm -rf "$LIB_DIR.partial"
        mkdir -p "$(dirname "$LIB_DIR")"
        mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$LIB_DIR.partial" >&2
        rm -rf "$LIB_DIR"
        mv "$LIB_DIR.partial" "$LIB_DIR"
        touch "$LIB_DIR/.complete"
    fi
}

check() {
    if [[ ! -f "$LIB_DIR/.complete" ]]; then
        log "not installed: run scripts/languagetool.sh install"
        exit 1
    fi
    # Java's source-file mode compiles the small runner on the fly: no build step, no class files.
    exec java "-Xmx$HEAP" -XX:+UseSerialGC -cp "$LIB_DIR/*" "$RUNNER" "$@"
}

case "${1:-}" in
    install) install ;;
    check) shift; check "$@" ;;
    path)
        if [[ -f "$LIB_DIR/.complete" ]]; then echo "$LIB_DIR"; else exit 1; fi
        ;;
    *)
        echo "usage: $0 install|check [RULE_ID...]|path" >&2
        exit 2
        ;;
esac
