lib 20
