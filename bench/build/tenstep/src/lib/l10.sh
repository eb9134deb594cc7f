lib 10
