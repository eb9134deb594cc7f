lib 3
