import type { BrowserContext, Page } from '@playwright/test';

export interface ErrorWatch {
  /** the errors seen so far that no declared pattern matches, one line each */
  unexpected(): string[];
}
export interface PageWatch extends ErrorWatch {
  expect(...patterns: RegExp[]): void;
  /** the errors seen so far that a declared pattern matches */
  expected(): string[];
}
export declare function watchPage(page: Page): PageWatch;
export declare function watchContext(context: BrowserContext): ErrorWatch;
export declare function expectPageErrors(page: Page, ...patterns: RegExp[]): void;
export declare function unexpectedPageErrors(page: Page): string[];
export declare function unexpectedContextErrors(context: BrowserContext): string[];
export declare function assertNoPageErrors(watched: readonly ErrorWatch[], what?: string): void;
