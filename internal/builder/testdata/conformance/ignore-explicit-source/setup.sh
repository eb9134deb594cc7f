printf 's\n' > secret.txt; printf 'secret.txt\n' > .dockerignore
