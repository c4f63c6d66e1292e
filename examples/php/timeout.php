<?php
// Runs past FUNC_TIMEOUT: the server answers 408 and kills this worker.

function handler($event, $context)
{
    sleep(10);
    return 'too late';
}
