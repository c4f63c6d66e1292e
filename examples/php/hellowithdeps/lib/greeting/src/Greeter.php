<?php

namespace Example\Greeting;

final class Greeter
{
    public function greet(string $name): string
    {
        return "hello $name";
    }
}
