# Sourced by build.sh and test.sh: sets the array `zig` to a Zig 0.17 compiler, the one on
# PATH (`zig`, or `python-zig` from the PyPI package `ziglang`) or `python3 -m ziglang`.
if command -v zig >/dev/null; then
    zig=(zig)
elif command -v python-zig >/dev/null; then
    zig=(python-zig)
elif python3 -c 'import ziglang' 2>/dev/null; then
    zig=(python3 -m ziglang)
else
    echo "zig not found: pip install ziglang==0.17.1 (or put Zig 0.17 on PATH)" >&2
    exit 3 # the toolchain is missing
fi
# std.Io and std.json change between Zig releases: this code is written for 0.17.
zig_version="$("${zig[@]}" version)"
if [[ $zig_version != 0.17.* ]]; then
    echo "found Zig $zig_version (${zig[*]}), but this code needs Zig 0.17:" \
        "pip install ziglang==0.17.1" >&2
    exit 3 # the right toolchain is missing
fi
