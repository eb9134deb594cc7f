mkdir -p dir/sub other; for f in dir/a dir/keep dir/sub/keep other/o; do printf 'v\n' > $f; done; printf 'dir\n!dir/keep\n!dir/sub/keep\n' > .dockerignore
