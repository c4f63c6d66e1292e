<?php

namespace Kubeless\ConformanceDep;

/** The one dependency of the PHP conformance function: its version. */
final class Dep
{
    public const VERSION = '1.0.0';
}
