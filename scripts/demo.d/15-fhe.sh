# Sourced by scripts/demo.sh: TFHE keys, public-key encryption, evaluation and decryption (docs/fhe.md).
step "FHE: keys (INSECURE test parameters, for speed), public-key encryption of two FheUint16, ge + select + sub on ciphertexts, decryption"
(
  set -euo pipefail
  K="$WORK/fhe-keys"
  "$VEIL" fhe keygen --out "$K" --params test
  "$VEIL" fhe encrypt --keys "$K" --type u16 1234 --out "$WORK/a.ct"
  "$VEIL" fhe encrypt --keys "$K" --type u16 999 --out "$WORK/b.ct"
  "$VEIL" fhe eval --keys "$K" --op ge "$WORK/a.ct" "$WORK/b.ct" --out "$WORK/ge.ct"
  "$VEIL" fhe select --keys "$K" "$WORK/ge.ct" "$WORK/a.ct" "$WORK/b.ct" --out "$WORK/max.ct"
  "$VEIL" fhe eval --keys "$K" --op sub "$WORK/a.ct" "$WORK/b.ct" --out "$WORK/diff.ct"
  echo "1234 >= 999:  $("$VEIL" fhe decrypt --keys "$K" "$WORK/ge.ct")"
  echo "max:          $("$VEIL" fhe decrypt --keys "$K" "$WORK/max.ct")"
  echo "1234 - 999:   $("$VEIL" fhe decrypt --keys "$K" "$WORK/diff.ct")"
  "$VEIL" fhe validate --pbs 500 --params test
)
