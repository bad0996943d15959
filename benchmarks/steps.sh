# Sourced by gpu_check.sh and gpu_train.sh (each sets out, steps and dry_run first).
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
