<?php

function handler($event, $context)
{
    throw new RuntimeException('something went wrong in the function');
}
