// The dashboard's static files (HTML, CSS, JavaScript from web/), compiled into the binary by a
// CMake step (embed_files.cmake), so that nothing is read from disk or fetched at run time.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace sluice::ops::dashboard {

struct EmbeddedFile {
  const char* name;           // "index.html", relative to web/
  const unsigned char* data;  // `size` bytes (followed by a NUL not counted in size)
  size_t size;

  std::string_view text() const { return {reinterpret_cast<const char*>(data), size}; }
};

// Every file of web/, in the order CMakeLists.txt lists them.
std::span<const EmbeddedFile> embeddedFiles();

// The file named `name`, or nullptr.
const EmbeddedFile* findEmbeddedFile(std::string_view name);

// The Content-Type for a file name by its extension ("text/html; charset=utf-8", ...).
std::string_view contentTypeFor(std::string_view name);

}  // namespace sluice::ops::dashboard
