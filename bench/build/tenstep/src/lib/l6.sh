lib 6
