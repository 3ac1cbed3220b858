# Sourced by scripts/demo.sh: a job spec is validated before anything is encrypted or sent.
step "A job spec, validated and quantised (docs/jobspec.md)"
digest="sha256:$(printf 'web-demo' | sha256sum | cut -d' ' -f1)"
cat > "$WORK/web.yaml" <<YAML
name: web
image: 127.0.0.1:5000/web:1.0@$digest
replicas: 2
resources: {cpu: 500m, memory: 128Mi}
policy: {name: spread, weights: {cpu: 2, memory: 1}}
ports:
  - {container: 8080, host: 18080}
YAML
"$VEIL" job validate "$WORK/web.yaml" --output json
step "The same spec with an unpinned image is refused, with the line and the fix"
sed -i "s|image: .*|image: nginx:latest|" "$WORK/web.yaml"
"$VEIL" job validate "$WORK/web.yaml" || true
