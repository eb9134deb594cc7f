echo app 17
