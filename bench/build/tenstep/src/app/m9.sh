echo app 9
