lib 7
