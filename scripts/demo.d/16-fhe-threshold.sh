# Sourced by scripts/demo.sh: a 3-of-5 key ceremony and threshold decryption (docs/fhe-threshold.md).
step "FHE threshold decryption: 5 member keys, 3-of-5 ceremony (INSECURE test parameters), encrypt with the ceremony's public key, 3 partial decryptions, combine; a wrong share is named"
(
  set -euo pipefail
  D="$WORK/threshold"
  for m in 1 2 3 4 5; do "$VEIL" keys member-keygen --out "$D/m$m" >/dev/null; done
  "$VEIL" keys ceremony --threshold 3 --out "$D/keys" --params test \
    --member "$D/m1/member.pub" --member "$D/m2/member.pub" --member "$D/m3/member.pub" \
    --member "$D/m4/member.pub" --member "$D/m5/member.pub" | head -1
  "$VEIL" fhe encrypt --keys "$D/keys" --type u16 700 --out "$D/a.ct" >/dev/null
  "$VEIL" fhe encrypt --keys "$D/keys" --type u16 650 --out "$D/b.ct" >/dev/null
  "$VEIL" fhe eval --keys "$D/keys" --op ge "$D/a.ct" "$D/b.ct" --out "$D/decision.ct" >/dev/null
  for m in 1 3 5; do
    "$VEIL" keys partial-decrypt --member-key "$D/m$m" --share "$D/keys/share-$m.sealed" --ct "$D/decision.ct" --out "$D/p$m.share"
  done
  echo "700 >= 650 (members 1, 3, 5): $("$VEIL" keys combine --keys "$D/keys" "$D/p1.share" "$D/p3.share" "$D/p5.share")"
  "$VEIL" keys partial-decrypt --member-key "$D/m2" --share "$D/keys/share-2.sealed" --ct "$D/a.ct" --out "$D/wrong2.share" >/dev/null
  echo "with member 2's share for another ciphertext: $("$VEIL" keys combine --keys "$D/keys" --ct "$D/decision.ct" \
    "$D/p1.share" "$D/wrong2.share" "$D/p3.share" "$D/p5.share" 2>&1 | tr '\n' ' ')"
)
