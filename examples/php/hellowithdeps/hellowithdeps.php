<?php
// Uses a package that composer.json installs from a `path` repository shipped in the bundle
// (hellowithdeps.zip: this file and lib/greeting), and the request in
// $event['extensions']['request'].

use Example\Greeting\Greeter;

function handler($event, $context)
{
    $request = $event['extensions']['request'];
    return [
        'greeting' => (new Greeter())->greet(trim($event['data'])),
        'query' => $request->getQueryParams(),
        'function' => $context['function-name'],
    ];
}
