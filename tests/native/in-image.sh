# Sourced by a language's run.sh when its toolchain is not on the machine: run the tests in
# that language's installation image (images/LANG/Dockerfile.init), once per version, and
# remove the images afterwards, passed or failed. Skips with a message without an engine.
#   in_image LANG VERSION_ARG "VERSION:SUITE ..." COMMAND...
in_image() {
    local lang=$1 arg=$2 versions=$3 version image
    shift 3
    if ! docker info >/dev/null 2>&1; then
        echo "$lang native tests SKIPPED: no $lang toolchain here and no Docker engine answers"
        return 0
    fi
    built=()
    trap 'for i in "${built[@]}"; do docker rmi "$i" >/dev/null 2>&1 || true; done' EXIT
    for version in $versions; do
        image=kubeless-runtime/$lang-native-tests:${version%%:*}
        built+=("$image")
        echo "-- $lang ${version%%:*} ($image)"
        docker build -q -t "$image" --build-arg "BASE_IMAGE=debian:${version#*:}-slim" \
            --build-arg "$arg=${version%%:*}" -f "images/$lang/Dockerfile.init" "images/$lang" \
            >/dev/null
        docker run --rm --network none --user 1000:1000 -v "$PWD:/repo:ro" -w /repo "$image" "$@"
    done
}
