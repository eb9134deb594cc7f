mkdir -p build/out docs/api src; for f in build/out/a docs/api/b docs/c src/d; do printf 'v\n' > $f; done; printf 'build\ndocs/api/\n' > .dockerignore
