mkdir -p d; for f in a b c d/e './sp ace'; do printf 'v\n' > "$f"; done; printf '# a comment\n\n/a\n./b\n  c  \nd/../d/e\n' > .dockerignore
