#!/usr/bin/env bash
# The Python packages the GPU image lacks, as wheels in .whl/ for gpu_check.sh, cut to travel: PyAV alone (the
# image has torch, onnxruntime, tqdm, pytest and their needs; /work/.library/device/KINDS.md). A device call
# carries at most 64 MiB, the checkout included (about 42 MiB), and PyAV's wheel is 35 MiB: each wheel is cut into
# parts of at most PART_MIB (18), carried one part a call on back-to-back calls (a warm machine keeps what earlier
# calls brought), and gpu_check.sh joins them before installing. Run here, in the checkout's root; it ignores
# .whl/ in .git/info/exclude and prints the calls to make.
#
#   bash benchmarks/gpu_wheels.sh
set -eu
cd "$(dirname "$0")/.."
part_mib="${PART_MIB:-18}"
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl 'av>=14'
for wheel in .whl/*.whl; do
    split -b "${part_mib}M" -d -a 1 "$wheel" "$wheel.part"
    rm "$wheel"
done
parts=(.whl/*.part*)
echo "gpu_wheels.sh: ${#parts[@]} parts in .whl/; on a warm GPU machine, one call each:"
for part in "${parts[@]::${#parts[@]}-1}"; do
    echo "  run: ls -l .whl                                      carry: [\"$part\"]"
done
echo "  run: bash benchmarks/gpu_check.sh --out \"\$OUT\"       carry: [\"${parts[-1]}\"], timeout_s 600"
