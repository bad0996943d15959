# Sourced by gpu_check.sh and gpu_train.sh (each sets out, steps and dry_run first, before step).
# step NAME SECONDS COMMAND...: run it under a time cap, its output to logs/NAME.log, one line in steps.tsv.
step() {
    local name="$1" cap="$2"; shift 2
    local started=$SECONDS status
    if [ "$dry_run" = 1 ]; then
        echo "would run ($cap s): $*"
        status=dry-run
    else
        echo "== $name (at most $cap s)"
        timeout --kill-after=10 "$cap" "$@" > "$out/logs/$name.log" 2>&1
        status=$?
        tr '\r' '\n' < "$out/logs/$name.log" | grep -v '^ *$' | tail -n 3  # a progress bar's last states too
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - started))" "$*" >> "$steps"
}

# install_carried_wheels: the wheels carried in .whl/ (gpu_wheels.sh; one cut into parts is joined first, once all
# its parts are here) into /tmp/site, put on PYTHONPATH.
install_carried_wheels() {
    local first
    for first in .whl/*.whl.part0; do
        [ -e "$first" ] && cat "${first%.part0}".part* > "${first%.part0}"
    done
    ls .whl/*.whl > /dev/null 2>&1 || return 0
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
        .whl/*.whl || return 1
    export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
}
