echo app 13
