mkdir -p secret docs/a/b logs
printf 'x\n' > app.log; printf 'k\n' > keep.log; printf 's\n' > secret/key; printf 'm\n' > docs/a/b/x.md
printf 'r\n' > docs/README.md; printf 't\n' > docs/a/b/x.txt; printf 'l\n' > logs/keep.log; printf 'ok\n' > main.go
printf '*.log\n!keep.log\nsecret/\ndocs/**/*.md\n!docs/README.md\nDockerfile\n' > .dockerignore
