lib 15
