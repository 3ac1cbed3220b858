#!/usr/bin/env bash
# `veil fhe` end to end on the INSECURE test parameters: keygen, public-key encryption,
# eval (ciphertext and scalar operands), select, decrypt; bad files fail with exit 1 and a
# message, bad usage with exit 2.
set -euo pipefail
VEIL=${1:?usage: fhe_cli_test.sh path/to/veil}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
K="$DIR/keys"
(umask 000; "$VEIL" fhe keygen --out "$K" --params test >/dev/null 2>&1)
# The client key is secret: owner read/write only, even under a permissive umask.
mode=$(stat -c %a "$K/client.key"); [[ "$mode" == 600 ]] || { echo "FAIL: client.key has mode $mode, want 600"; exit 1; }
"$VEIL" fhe encrypt --keys "$K" --type u16 40000 --out "$DIR/a"
"$VEIL" fhe encrypt --keys "$K" --type u16 1234 --out "$DIR/b"
"$VEIL" fhe encrypt --keys "$K" --type bool 1 --out "$DIR/t"
expect() { local got; got=$("$VEIL" fhe decrypt --keys "$K" "$1"); [[ "$got" == "$2" ]] || { echo "FAIL: $1 decrypted to $got, want $2"; exit 1; }; }
"$VEIL" fhe eval --keys "$K" --op add "$DIR/a" "$DIR/b" --out "$DIR/r1"; expect "$DIR/r1" 41234
"$VEIL" fhe eval --keys "$K" --op sub "$DIR/b" "$DIR/a" --out "$DIR/r2"; expect "$DIR/r2" $(( (1234 - 40000) & 0xffff ))
"$VEIL" fhe eval --keys "$K" --op gt "$DIR/a" 39999 --out "$DIR/r3"; expect "$DIR/r3" true
"$VEIL" fhe eval --keys "$K" --op le 5 "$DIR/b" --out "$DIR/r4"; expect "$DIR/r4" true
"$VEIL" fhe eval --keys "$K" --op min "$DIR/a" "$DIR/b" --out "$DIR/r5"; expect "$DIR/r5" 1234
"$VEIL" fhe eval --keys "$K" --op xor "$DIR/a" 65535 --out "$DIR/r6"; expect "$DIR/r6" $(( 40000 ^ 65535 ))
"$VEIL" fhe eval --keys "$K" --op eq "$DIR/a" "$DIR/b" --out "$DIR/r7"; expect "$DIR/r7" false
"$VEIL" fhe select --keys "$K" "$DIR/r7" "$DIR/a" "$DIR/b" --out "$DIR/r8"; expect "$DIR/r8" 1234
"$VEIL" fhe eval --keys "$K" --op and "$DIR/t" "$DIR/r3" --out "$DIR/r9"; expect "$DIR/r9" true
# Bad input: truncated file, a key where a ciphertext belongs, missing keys, bad usage.
head -c 200 "$DIR/a" > "$DIR/trunc"
set +e
out=$("$VEIL" fhe decrypt --keys "$K" "$DIR/trunc" 2>&1); rc=$?
[[ $rc -eq 1 && "$out" == *truncated* ]] || { echo "FAIL: truncated file: rc=$rc $out"; exit 1; }
out=$("$VEIL" fhe eval --keys "$K" --op add "$K/public.key" "$DIR/b" --out "$DIR/x" 2>&1); rc=$?
[[ $rc -eq 1 && "$out" == *"compact public key"* ]] || { echo "FAIL: key as ciphertext: rc=$rc $out"; exit 1; }
out=$("$VEIL" fhe encrypt --keys "$DIR/nowhere" --type u8 1 --out "$DIR/x" 2>&1); rc=$?
[[ $rc -eq 1 ]] || { echo "FAIL: missing keys: rc=$rc $out"; exit 1; }
"$VEIL" fhe encrypt --keys "$K" --type u8 300 --out "$DIR/x" >/dev/null 2>&1; rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: out-of-range value: rc=$rc"; exit 1; }
[[ ! -e "$DIR/x" ]] || { echo "FAIL: a failed command left an output file"; exit 1; }
echo "fhe cli ok"
