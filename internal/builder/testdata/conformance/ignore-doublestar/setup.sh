mkdir -p x/y/z q; for f in x/t.tmp x/y/t.tmp x/y/z/t.tmp t.tmp q/keep x/y/z/keep; do printf 'v\n' > $f; done; printf '**/*.tmp\n' > .dockerignore
