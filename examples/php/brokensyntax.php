<?php
// A parse error: the deploy fails with the file, line and fix in the termination log.
function handler($event, $context)
{
    return [1, 2;
}
