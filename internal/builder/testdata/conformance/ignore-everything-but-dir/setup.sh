mkdir -p app/lib other; for f in app/main app/lib/l other/o top; do printf 'v\n' > $f; done; printf '*\n!app\n' > .dockerignore
