# Sourced by scripts/demo.sh: a placement decided on ciphertexts equals the plaintext decision.
step "Encrypted placement: 4 nodes' telemetry encrypted with the compact public key, 2 replicas placed by 'spread' on ciphertexts, decrypted and compared with the plaintext scheduler (default TFHE parameters)"
"$VEIL" bench schedule --nodes 4 --policy spread --replicas 2 --repetitions 1
