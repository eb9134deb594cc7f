mkdir -p a b; for f in a/1 a/2 b/1 top keep.me; do printf '$f\n' > $f; done; printf '*\n!keep.me\n!a/2\n' > .dockerignore
