// qlite — the comparison of model/compare.hpp as a text table, JSON, markdown and an SVG chart.
//
// (This header formats with fmt; the rest of model/ does not need it.)
//
//   compare_table(rows)      fixed-width text for a terminal
//   compare_markdown(rows)   a GitHub table
//   compare_json(rows, meta) {"model": …, "rows": [{"policy": …, "bits_per_weight": …, …}]}
//   compare_svg(rows, title) a scatter chart: file size (x, MiB) against ΔPPL (y, %, log
//                            scale above 0.01 %), one labelled point per row, a browser opens it
//
//   std::fputs(qlite::compare_table(rows).c_str(), stdout);
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "qlite/model/compare.hpp"

namespace qlite {

namespace detail {

inline std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      o += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
    } else {
      o += c;
    }
  }
  return o;
}

inline std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else
      o += c;
  }
  return o;
}

inline std::string size_text(double bytes) {
  if (bytes >= 1024.0 * 1024.0 * 1024.0) return fmt::format("{:.2f} GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  if (bytes >= 1024.0 * 1024.0) return fmt::format("{:.2f} MiB", bytes / (1024.0 * 1024.0));
  return fmt::format("{:.1f} KiB", bytes / 1024.0);
}

inline std::string fallback_text(const compare_row& r) {
  return r.fallbacks ? fmt::format("{} of {}", r.fallbacks, r.matrices) : std::string("-");
}

}  // namespace detail

/// Fixed-width text table (one row per policy; the first row is the reference).
inline std::string compare_table(const std::vector<compare_row>& rows) {
  std::size_t w = 6;
  for (const auto& r : rows) w = std::max(w, r.policy.size());
  std::string s = fmt::format(
      "{:<{}}  {:>6}  {:>10}  {:>8}  {:>11}  {:>10}  {:>8}  {:>8}  {:>9}  {:>7}  {}\n", "format", w, "bits/w",
      "size", "build s", "prefill t/s", "decode t/s", "PPL", "ΔPPL %", "KLD", "top-1", "f16 fallbacks");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const compare_row& r = rows[i];
    const bool ref = i == 0;
    s += fmt::format(
        "{:<{}}  {:>6.2f}  {:>10}  {:>8.3f}  {:>11.0f}  {:>10.0f}  {:>8.4f}  {:>8}  {:>9}  {:>7}  {}\n",
        r.policy, w, r.bits_per_weight, detail::size_text(r.size_bytes), r.build_seconds,
        r.prefill_tokens_per_s, r.decode_tokens_per_s, r.accuracy.ppl(),
        ref ? "ref" : fmt::format("{:+.3f}", 100.0 * r.ppl_delta),
        ref ? "ref" : fmt::format("{:.5f}", r.accuracy.kld()),
        ref ? "ref" : fmt::format("{:.4f}", r.accuracy.top1()), detail::fallback_text(r));
  }
  return s;
}

/// The same as a GitHub markdown table.
inline std::string compare_markdown(const std::vector<compare_row>& rows) {
  std::string s =
      "| format | bits/weight | size | build s | prefill tok/s | decode tok/s | PPL | ΔPPL % | KLD | top-1 | "
      "f16 "
      "fallbacks |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const compare_row& r = rows[i];
    const bool ref = i == 0;
    s += fmt::format("| {} | {:.2f} | {} | {:.3f} | {:.0f} | {:.0f} | {:.4f} | {} | {} | {} | {} |\n",
                     r.policy, r.bits_per_weight, detail::size_text(r.size_bytes), r.build_seconds,
                     r.prefill_tokens_per_s, r.decode_tokens_per_s, r.accuracy.ppl(),
                     ref ? "ref" : fmt::format("{:+.3f}", 100.0 * r.ppl_delta),
                     ref ? "ref" : fmt::format("{:.5f}", r.accuracy.kld()),
                     ref ? "ref" : fmt::format("{:.4f}", r.accuracy.top1()), detail::fallback_text(r));
  }
  return s;
}

/// JSON: {"model": <model>, "predicted_tokens": n, "rows": [...]}; numbers in full precision.
inline std::string compare_json(const std::vector<compare_row>& rows, const std::string& model) {
  std::string s = fmt::format("{{\n  \"model\": \"{}\",\n  \"predicted_tokens\": {},\n  \"rows\": [\n",
                              detail::json_escape(model), rows.empty() ? 0 : rows.front().accuracy.count);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const compare_row& r = rows[i];
    s += fmt::format(
        "    {{\"policy\": \"{}\", \"bits_per_weight\": {:.6g}, \"size_bytes\": {:.0f}, \"build_seconds\": "
        "{:.6g}, "
        "\"prefill_tokens_per_s\": {:.6g}, \"decode_tokens_per_s\": {:.6g}, \"ppl\": {:.9g}, \"nll\": "
        "{:.9g}, "
        "\"ppl_delta\": {:.9g}, \"kld\": {}, \"top1\": {}, \"matrices\": {}, \"f16_fallbacks\": {}}}{}\n",
        detail::json_escape(r.policy), r.bits_per_weight, r.size_bytes, r.build_seconds,
        r.prefill_tokens_per_s, r.decode_tokens_per_s, r.accuracy.ppl(), r.accuracy.nll(), r.ppl_delta,
        r.accuracy.has_reference ? fmt::format("{:.9g}", r.accuracy.kld()) : "null",
        r.accuracy.has_reference ? fmt::format("{:.9g}", r.accuracy.top1()) : "null", r.matrices, r.fallbacks,
        i + 1 < rows.size() ? "," : "");
  }
  return s + "  ]\n}\n";
}

/// An SVG scatter chart of size against ΔPPL (see the file comment).
inline std::string compare_svg(const std::vector<compare_row>& rows, const std::string& title) {
  constexpr double W = 760, H = 480, L = 80, R = 30, T = 50, B = 60;
  double xmax = 0, ymax = 0.1;
  for (const auto& r : rows) {
    xmax = std::max(xmax, r.size_bytes / (1024.0 * 1024.0));
    ymax = std::max(ymax, 100.0 * r.ppl_delta);
  }
  xmax *= 1.1;
  // y: log10 of ΔPPL % from 0.01 % up; values at or below 0.01 % (and the reference) sit on the floor.
  const double ylo = -2.0, yhi = std::ceil(std::log10(ymax));
  auto X = [&](double mib) { return L + (W - L - R) * mib / xmax; };
  auto Y = [&](double pct) {
    const double v = std::clamp(std::log10(std::max(pct, 1e-2)), ylo, yhi);
    return H - B - (H - T - B) * (v - ylo) / (yhi - ylo);
  };
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"28\" font-size=\"16\">{3}</text>\n",
      W, H, L, detail::xml_escape(title));
  s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", L, H - B, W - R);
  s += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", L, T, H - B);
  for (int i = 0; i <= 5; ++i) {
    const double v = xmax * i / 5.0;
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:.2f}</text>\n", X(v), H - B + 18,
                     v);
  }
  for (double e = ylo; e <= yhi + 1e-9; e += 1.0) {
    s += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", L,
                     Y(std::pow(10, e)), W - R, Y(std::pow(10, e)));
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:g} %</text>\n", L - 6,
                     Y(std::pow(10, e)) + 4, std::pow(10, e));
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">weights in the file (MiB)</text>\n",
                   (L + W - R) / 2, H - 18);
  s += fmt::format(
      "<text x=\"20\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 20 {})\">ΔPPL vs {} "
      "(log)</text>\n",
      (T + H - B) / 2, (T + H - B) / 2, rows.empty() ? "" : detail::xml_escape(rows.front().policy));
  // Labels go beside their point, moved down past labels already placed (coincident points
  // — formats that fell back to the same storage — get a readable stack).
  std::vector<std::pair<double, double>> placed;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const compare_row& r = rows[i];
    const double x = X(r.size_bytes / (1024.0 * 1024.0)), y = Y(100.0 * r.ppl_delta);
    double ly = y - 6;
    for (bool moved = true; moved;) {
      moved = false;
      for (const auto& [px, py] : placed)
        if (std::fabs(px - (x + 6)) < 90 && std::fabs(py - ly) < 12) {
          ly = py + 13;
          moved = true;
        }
    }
    placed.emplace_back(x + 6, ly);
    s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"/>\n", x, y,
                     i == 0 ? "black" : "#1f77b4");
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", x + 6, ly,
                     detail::xml_escape(r.policy));
  }
  return s + "</svg>\n";
}

}  // namespace qlite
