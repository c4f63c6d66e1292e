'use strict';

// Sleeps past its deadline: deployed with --timeout 1 the caller gets 408 and the
// worker running the call is stopped, so "done" is never logged.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = {
  handler: async (event, context) => {
    await sleep((Number(context.timeout) + 2) * 1000);
    console.log('done');
    return 'too late';
  },
};
