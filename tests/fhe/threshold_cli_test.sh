#!/usr/bin/env bash
# End to end: `veil keys` member keys, a 2-of-3 ceremony (INSECURE test parameters), encryption
# with the ceremony's public key, a bootstrapped evaluation, partial decryptions and combination,
# including a forged share and a share opened with the wrong member key.
set -euo pipefail
VEIL=${1:?usage: threshold_cli_test.sh path/to/veil}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }

for m in 1 2 3; do "$VEIL" keys member-keygen --out "m$m" >/dev/null; done
[ "$(stat -c %a m1/member.key)" = 600 ] || fail "member.key is not mode 0600"
"$VEIL" keys member-keygen --out m1 >/dev/null 2>&1 && fail "member-keygen overwrote a key"
"$VEIL" keys ceremony --threshold 2 --member m1/member.pub --member m2/member.pub --member m3/member.pub \
  --out keys --params test >ceremony.txt
for f in public.key server.compressed.key squash.key committee.bin share-1.sealed share-2.sealed share-3.sealed hashes.json; do
  [ -s "keys/$f" ] || fail "keys/$f missing"
done
[ -e keys/client.key ] && fail "the dealer wrote a client key"
grep -q '"share-2.sealed"' keys/hashes.json || fail "hashes.json lacks the share hashes"
grep -q '"squash.key"' keys/hashes.json || fail "hashes.json lacks the squashing key's hash"

"$VEIL" fhe encrypt --keys keys --type u16 1234 --out a.ct >/dev/null
"$VEIL" fhe encrypt --keys keys --type u16 4321 --out b.ct >/dev/null
"$VEIL" fhe eval --keys keys --op add a.ct b.ct --out sum.ct >/dev/null
"$VEIL" fhe eval --keys keys --op gt b.ct a.ct --out gt.ct >/dev/null

for m in 1 2 3; do
  "$VEIL" keys partial-decrypt --member-key "m$m" --share "keys/share-$m.sealed" --ct sum.ct --out "p$m.share" >/dev/null
  "$VEIL" keys partial-decrypt --member-key "m$m" --share "keys/share-$m.sealed" --ct gt.ct --out "g$m.share" >/dev/null
done
[ "$("$VEIL" keys combine --keys keys p1.share p3.share)" = 5555 ] || fail "2 shares do not decrypt the sum"
[ "$("$VEIL" keys combine --keys keys --ct sum.ct p1.share p2.share p3.share)" = 5555 ] || fail "3 shares"
[ "$("$VEIL" keys combine --keys keys g2.share g3.share)" = true ] || fail "the comparison"
"$VEIL" keys combine --keys keys p2.share >/dev/null 2>&1 && fail "one share decrypted"

# The wrong member's key cannot open a share.
"$VEIL" keys partial-decrypt --member-key m1 --share keys/share-2.sealed --ct sum.ct --out x.share 2>err.txt && fail "opened another member's share"
grep -q "cannot open the sealed share" err.txt || fail "unclear error: $(cat err.txt)"

# A squashing key from another ceremony is refused (it would squash under a key nobody shares).
"$VEIL" keys ceremony --threshold 2 --member m1/member.pub --member m2/member.pub --out other --params test >/dev/null
"$VEIL" keys partial-decrypt --member-key m1 --share keys/share-1.sealed --squash-key other/squash.key --ct sum.ct \
  --out x.share 2>err.txt && fail "accepted another ceremony's squashing key"
grep -q "not the squashing key this committee was dealt with" err.txt || fail "unclear error: $(cat err.txt)"

# A share for another ciphertext, passed as member 2's: named, and the rest still decrypt.
out=$("$VEIL" keys combine --keys keys --ct sum.ct p1.share g2.share p3.share 2>err.txt)
[ "$out" = 5555 ] || fail "decryption with a wrong share: $out"
grep -q "member 2" err.txt || fail "member 2 not named: $(cat err.txt)"
json=$("$VEIL" keys combine --keys keys --ct sum.ct -o json p1.share g2.share p3.share 2>/dev/null)
echo "$json" | grep -q '"member": 2' || fail "json lacks the wrong member: $json"
echo "threshold CLI OK"
