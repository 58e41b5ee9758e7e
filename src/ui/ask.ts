/** Shows one question (Ask.svelte) in `target` and resolves with the answer; then removes it. */
import { mount, unmount } from 'svelte';
import Ask from './components/Ask.svelte';
import type { Question } from './questions.ts';

export function ask(target: HTMLElement, question: Question): Promise<{ confirmed: boolean; option: boolean }> {
  return new Promise((resolve) => {
    const shown = mount(Ask, {
      target,
      props: {
        question,
        onanswer: (a: { confirmed: boolean; option: boolean }) => {
          void unmount(shown);
          resolve(a);
        },
      },
    });
  });
}
