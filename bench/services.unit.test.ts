import { describe, expect, it } from 'vitest';
import { imageEnvironment } from '../test/dockerfile.fixture.js';
import { imageProcessEnvironment } from './services.js';

describe('the services measured alone', () => {
  it('run with what the images set for the process besides configuration', () => {
    const image = imageEnvironment('runtime');
    // The parse must find what the stage is known to set, or the check below would pass on nothing.
    expect(image.get('HOST')).toBe('0.0.0.0');
    for (const [name, value] of Object.entries(imageProcessEnvironment)) expect(image.get(name), name).toBe(value);
  });
});
