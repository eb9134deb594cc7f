for f in a.log b.log c.txt d1 d22 e; do printf 'v\n' > $f; done; printf '*.log\nd?\n[e]\n' > .dockerignore
