lib 1
