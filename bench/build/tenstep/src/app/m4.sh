echo app 4
