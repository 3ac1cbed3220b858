# Sourced by scripts/demo.sh: the same committee keys without a dealer — three `veil keys dkg`
# processes, one per member, over libp2p on loopback (docs/dkg.md).
step "FHE keys without a dealer: a 2-of-3 DKG, one process per member over libp2p (INSECURE test parameters), then a decision decrypted by two of them"
(
  set -euo pipefail
  D="$WORK/dkg"
  ports=()
  for m in 1 2 3; do
    "$VEIL" keys member-keygen --out "$D/m$m" >/dev/null
    ports+=("$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')")
  done
  members=()
  for m in 1 2 3; do members+=(--member "$D/m$m/member.pub=/ip4/127.0.0.1/tcp/${ports[$((m - 1))]}"); done
  pids=()
  for m in 1 2 3; do
    "$VEIL" keys dkg --threshold 2 --member-key "$D/m$m" --listen "/ip4/127.0.0.1/tcp/${ports[$((m - 1))]}" \
      "${members[@]}" --params test --out "$D/keys$m" >"$D/dkg$m.out" 2>"$D/dkg$m.err" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  sed 's/^/  member 1: /' "$D/dkg1.err" | tail -n 4
  head -1 "$D/dkg1.out"
  cmp -s "$D/keys1/public.key" "$D/keys2/public.key" && cmp -s "$D/keys1/public.key" "$D/keys3/public.key" &&
    echo "the three members wrote the same public key; each holds only its own share:" "$(cd "$D" && ls keys*/share-* | tr "\n" " ")"
  "$VEIL" fhe encrypt --keys "$D/keys1" --type u16 700 --out "$D/a.ct" >/dev/null
  "$VEIL" fhe encrypt --keys "$D/keys1" --type u16 650 --out "$D/b.ct" >/dev/null
  "$VEIL" fhe eval --keys "$D/keys1" --op ge "$D/a.ct" "$D/b.ct" --out "$D/decision.ct" >/dev/null
  shares=()
  for m in 1 2; do
    share=$(ls "$D/keys$m"/share-*.sealed)
    "$VEIL" keys partial-decrypt --member-key "$D/m$m" --share "$share" --ct "$D/decision.ct" --out "$D/p$m.share" >/dev/null
    shares+=("$D/p$m.share")
  done
  echo "700 >= 650 (two members' partials): $("$VEIL" keys combine --keys "$D/keys1" "${shares[@]}")"
)
