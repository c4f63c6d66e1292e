<?php
// A JSON body arrives decoded in $event['data'] (objects as stdClass, as json_decode gives
// them); whatever is not a string is sent back as JSON.

function handler($event, $context)
{
    echo 'data: ' . json_encode($event['data'], JSON_UNESCAPED_UNICODE) . "\n";
    return $event['data'];
}
