mkdir v1 v2; printf 'one\n' > v1/f; printf 'two\n' > v2/f; printf 'only1\n' > v1/g
