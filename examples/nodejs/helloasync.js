'use strict';

// A handler may return a promise (or be an async function); its value is the answer.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = {
  handler: async (event, context) => {
    await sleep(100);
    return { message: 'hello async', function: context['function-name'] };
  },
};
