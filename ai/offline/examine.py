"""One photo examined: image-quality checks, the face, its pose and regions, the per-pixel maps.

    examination = examine_photo(image_jpeg, area="face")

Shared by the provider (which turns the maps into scores) and the overlays (which draw
them). Measures are taken on "canvases" of fixed scale, cut from the photo decoded at
just the resolution they need: the face at FACE_CANVAS_WIDTH_PX wide for colour, shine,
spots and texture, and at DETAIL_CANVAS_WIDTH_PX for wrinkles and pores when the photo
holds that much detail. The same face gives the same canvases whether it was
photographed at 1 or 12 megapixels.

A face scan in which no face is found is not scored: there is no fallback that measures
whatever skin-coloured pixels fill the frame. Close-ups of other areas are measured over
the whole frame, after a check that the frame shows skin.
"""

import warnings
from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np

from ai.analysis import (
    COLOUR_CAST,
    COMPRESSED,
    FACE_COVERED,
    NOISY,
    NOT_A_PHOTO,
    ONE_HUE,
    QUALITY_REASONS,
    SEVERAL_FACES,
    UNEVEN_LIGHT,
)
from ai.offline.detail import DetailMaps, measure_detail
from ai.offline.images import (
    BLURRY_FACE_EDGE_RATIO,
    BLURRY_LAPLACIAN_VARIANCE,
    FACE_FOCUS_WIDTH_PX,
    JPEG_BLOCK_PX,
    MAX_BLOCKINESS,
    MAX_GRAIN_GREY_LEVELS,
    MAX_PERIODICITY,
    MIN_SHORT_SIDE_PX,
    WORKING_LONG_SIDE_PX,
    blockiness,
    decode_image,
    edge_sharpness,
    exposure_reasons,
    face_exposure_reasons,
    grain,
    periodicity,
    photo_size,
    reduction_for,
    resize_long_side,
    sharpness,
    to_gray,
)
from ai.offline.landmarks import FaceLandmarks, find_face
from ai.offline.pixels import (
    CLOSE_UP_SPOT_SCALE,
    REFERENCE_LIGHTNESS,
    PixelMaps,
    measure_pixels,
    to_reference,
)
from ai.offline.regions import (
    CHEEKS,
    FACE_OVAL,
    NOT_SKIN,
    REGION_POLYGONS,
    UNDER_EYES,
    FaceLayout,
    face_layout,
    polygon_mask,
)

FACE_AREA = "face"
FACE_CANVAS_WIDTH_PX = 256
# The canvas is the landmarks' box widened by this share of the face's width on every
# side: room for the blurs' support around the face's outline.
FACE_CANVAS_MARGIN_FRACTION = 0.12
# Wrinkles and pores are measured on a second canvas where the face is this wide
# (about 0.14 mm a pixel on an adult face): fine lines and pores are a few pixels across.
DETAIL_CANVAS_WIDTH_PX = 1024
# Wrinkles and pores need the face at least this wide in the photo (the detail canvas
# then enlarges it at most by 2.4 %): below it, lines and pores do not resolve.
MIN_DETAIL_FACE_WIDTH_PX = 1000
# The photo is decoded first at no less than this long side (a 12 MP photo at a quarter
# of its size: libjpeg scales while decoding, several times faster than in full). It is
# decoded again, finer, only when a canvas would have to enlarge the face more than
# MAX_CANVAS_ENLARGEMENT times: a selfie's face 1,000 px wide is 250 px at a quarter.
MIN_DECODED_LONG_SIDE_PX = 960
MAX_CANVAS_ENLARGEMENT = 1.5
# A canvas shrunk by less than this (factor above it) is resized bilinearly.
SLIGHT_SHRINK_FACTOR = 0.75
# Close-ups of one area (a cheek, the neck) have no face to scale by: the whole frame is
# measured at this long side.
FRAME_CANVAS_LONG_SIDE_PX = 512
# Below this share of skin in the face's measured area there is too little to judge.
MIN_FACE_SKIN_FRACTION = 0.30
# A face whose skin clipped white (pixels.CLIPPED_VALUE) over more than this share is
# too_bright, whatever the rest of the photo: its colour is lost where it matters, and
# the darker half of the skin that redness is read from starts to clip. The portrait
# (a fair face on a dark background, mean grey 115) clips on 1 % of its skin as taken,
# 33 % exposed 10 % brighter, 52 % at 15 % and 77 % at 30 %, where its mean grey is
# still 144 of TOO_BRIGHT_MEAN_LUMA's 215.
MAX_CLIPPED_SKIN_SHARE = 0.5
# A close-up shows skin when most of the frame is skin-coloured, of one colour (the
# chroma of skin under one light varies little; fur, gravel and brick vary a lot) and
# smooth at the finest scale (skin texture is faint beside fur or stone).
# The colour's spread is read on the skin between its red patches and blemishes: they
# are what a close-up is taken to measure, and counted in, the suite's 24 red blemishes
# on a cheek filling the frame (spread 6.9-7.2) made it "too little skin", as did Grace
# Hopper's cheek and chin, a warm photo of older skin (6.2-6.5). Read so, cheeks and
# foreheads of four portraits measure 2.7-7.2: reddened, darkened, side-lit, under a
# lamp, and with 24 or 40 blemishes (4.1-6.9); a cat's fur 9.7, coffee 12.1, a stained
# tissue section 9.9.
CLOSE_UP_MIN_SKIN_FRACTION = 0.60
CLOSE_UP_MAX_CHROMA_SPREAD = 8.0  # robust std of CIELAB a* and b* combined
CLOSE_UP_MAX_TEXTURE_PCT = 3.0  # median fine-scale contrast, % of the lightness
# ... and no redder than skin: the median green of its skin-coloured pixels at least this
# share of their red (sRGB values). Skin reflects green at least half as well as red, so
# flushed, dark or warmly lit skin stays above it: four portraits' cheeks filling the
# frame measured 0.62-0.85 as taken, and no less than 0.51 reddened twice, darkened to
# 0.6 of their L* or under a strong warm lamp (the least on Grace Hopper, whose photo is
# already warm). A photograph of the back of an eye (scikit-image's retina) is orange-red
# all over, skin-coloured by hue, and smooth: 0.39 over the whole photo, 0.34-0.49 over
# 115 crops of a fifth to a half of it, of which only one, around the pale optic disc,
# passes as skin (0.48).
CLOSE_UP_MIN_GREEN_TO_RED = 0.48
# ... lit by one light: the L* of the skin-coloured pixels spreads (a robust standard
# deviation, which a shadow over less than half the frame does not move) no more than
# this. Twenty-one skin patches cut from five real photos (faces, shoulders, arms, a
# hand), each as taken, 0.6 and 1.2 times as bright, warmer, cooler and grainy, spread
# 1.3-15.6, the suite's cheeks side-lit and under a lamp 9.6-9.9; a castle against a
# pink sky 33, a workshop with a red motorcycle 26.
CLOSE_UP_MAX_LIGHTNESS_SPREAD = 22.0
# ... and crossed by few long step edges: an edge whose two sides, each of
# CLOSE_UP_STEP_REACHES_PX away across it, differ by at least CLOSE_UP_STEP_MIN_L in L*,
# in a line at least CLOSE_UP_STEP_MIN_EXTENT of the canvas's long side. Skin's own
# marks are spots (short) or thin lines with the same skin on both sides (a wrinkle, a
# strand of hair); the outlines of things (a building against the sky, a machine's
# parts, boards on a table) are steps. Counted in the canvas's long sides: those with
# skin-coloured pixels on both sides, at most CLOSE_UP_MAX_STEP_EDGES, and all of them,
# the skin's own outline included (an arm or a neck against a wall, a collar, the
# hair), at most CLOSE_UP_MAX_ALL_STEP_EDGES. The 126 skin patches above measure 0-0.26
# and 0-0.58; the suite's cheek between two walls 2.0 (its two outlines) and 0; with
# 1-10 strands of hair drawn across it 0; a forehead with 7 or 12 drawn lines 18 %
# darker 0.30-0.33, 30 % darker 0.51-0.62, 45 % darker 0.74-1.0. Of 101 cuts of photos
# of no skin (scenes, objects, a cat's fur, a toy, fruit) that passed the colour,
# texture and redness rules above, 36 measure more or spread their light more, among
# them every whole photo of a scene but an evenly lit church's interior. Counting every
# edge at 1.0 caught 55 of them, and refused a cheek between two walls.
CLOSE_UP_MAX_STEP_EDGES = 1.0
CLOSE_UP_MAX_ALL_STEP_EDGES = 2.5
CLOSE_UP_STEP_SMOOTHING_SIGMA_PX = 2.0
CLOSE_UP_STEP_EDGE_L_PER_PX = (1.0, 2.0)  # Canny's low and high gradients, L* per px
CLOSE_UP_STEP_REACHES_PX = (6.0, 9.0, 12.0)
CLOSE_UP_STEP_MIN_L = 10.0
CLOSE_UP_STEP_MIN_EXTENT = 0.125
# Below this short side (photo px) nothing is scored at all: a thumbnail's few pixels
# would give confident-looking numbers about skin they cannot show.
MIN_JUDGEABLE_SIDE_PX = 64
# Head pose past which the regions no longer face the camera: the far cheek is
# foreshortened and shaded, and its measures are not comparable week to week.
MAX_YAW_DEG = 20.0
MAX_PITCH_DEG = 25.0
MAX_ROLL_DEG = 20.0
# An eye whose lid gap is under this share of its width is closed (open: about 0.3).
MIN_EYE_OPENNESS = 0.12
# The mesh model draws an open eye's outline even over a closed or covered one, so what
# is inside the outline decides too: an open eye is under 60 % skin-coloured (iris and
# white) with a wide lightness range (5th to 95th percentile, L*); a closed lid is skin
# all over, and sunglasses or a hand flatten the range.
# The range is read as at the skin's REFERENCE_LIGHTNESS: L* + 16 grows as the cube root
# of the light, so a darker photo of the same eye has a narrower range in L* (Grace
# Hopper's narrow eyes measured 44 and 39 as taken, 33-35 at 80 % and 29-30 at 70 %,
# and a limit of 35 in L* called them hidden; the astronaut's 32 at 45 %, her mean grey
# still 52). Scaled by (REFERENCE_LIGHTNESS + 16) / (the skin's median L* + 16), open
# eyes measure 40-91 on both portraits (the astronaut's also with darker skin) at 45 %
# to 140 % of the light, and 32-37 only where the photo is too_dark; sunglasses painted
# flat measure 0.5-2.6 and a hand over the eyes 6-19, at every exposure.
# Both are read on the face as if evenly lit (PixelMaps.even_lightness and
# even_skin_colour): scaled by the light each pixel is in, not the whole face's. With a
# window beside the face, the skin model from both cheeks took a lit open eye for a lid
# (Grace Hopper with 0.4 or 0.25 of the light on one side, the astronaut with 0.25), and
# closed eyes with 0.4 or 0.25 on her left were a colour_cast, not eyes_hidden.
EYE_HIDDEN_SKIN_SHARE = 0.85
EYE_MIN_LIGHTNESS_RANGE = 30.0
# A lid is skin at most this much brighter than the face's median (L*, read as at the
# REFERENCE_LIGHTNESS like the range): a highlight on a lid. The person's skin model
# leaves brighter pixels open (highlights are skin), so on dark skin the white of an
# open eye, warm enough for the colour rules, and an iris no darker than the skin, made
# an open eye all skin-coloured: the astronaut with her skin at L* 18-39 was eyes_hidden
# at every exposure (skin share 1.00). Without the pixels this much brighter, at five
# skin tones and 50-130 % of the light, her open eyes are 0.30-0.60 lid-like, her closed
# lids 0.93-1.00 (but one eye of one photo, its other 0.99), a hand over her eyes
# 0.71-1.00 (one eye at least 0.85).
EYE_LID_BRIGHTER_MAX = 20.0
MIN_EYE_PIXELS = 40
# A mouth covered (a mask, a scarf, a hand over it): the mesh model still draws lips
# where they would be, so what lies inside their outline decides, against the skin
# right around it (a ring MOUTH_RING_SHARE of the mouth's width wide: under a mask the
# mesh may put the chin off the mask). Real lips are darker than that skin at their
# line, and of a colour of their own. The depth (the ring's median L* less the lips'
# darkest twentieth) is read against the eyes' (the under-eyes' median L* less the
# eyes' darkest twentieth), since a flat photo (its contrast lowered) makes both
# shallow; each is read as at the REFERENCE_LIGHTNESS by the L* around it, and so is the
# colour difference (the lips' median a*, b* against the ring's). A mouth is covered
# when its depth is under MOUTH_MAX_DEPTH_SHARE of the eyes' and its colour under
# MOUTH_MIN_COLOUR_DIFFERENCE.
# On the two portraits (the astronaut also enlarged to 2,400 px) as taken, reddened,
# dimmed to 60 %, brightened, lit from one side, behind sunglasses, with closed eyes,
# with the skin darkened to 35-75 % of its L* at 60-100 % of the light, and with their
# contrast lowered to 20-50 %: depth share 0.44-1.0 (0.51 and more where scored),
# colour 2.3-16. Masks in twelve colours (pinks, red, peach, beige, tan, brown, blue,
# navy, green, white, black) from over the nose to below the chin, also on darker skin
# and with sunglasses: 0.05-0.28 and 0-4.6 (and 0.40 where the mesh took a navy mask
# on dark skin for a turned head); a hand over the mouth 0.14-0.21 and 0.1-0.2. Before
# the depth was read against the eyes', a photo at 30 % contrast was taken for masked.
MOUTH_RING_SHARE = 0.1
MOUTH_MAX_DEPTH_SHARE = 0.36
# Blur takes more depth from the lips' thin line than from the eyes, and smooths a
# mask's folds: blurred by a Gaussian of 2-6 px (a 512 px portrait), so that its eyes
# cannot be read (blurry and eyes_hidden), Grace Hopper's thin lips measure 0.29-0.47 of
# her eyes' depth and masks 0.01-0.05. In such a photo a mouth is covered under this.
MOUTH_MAX_DEPTH_SHARE_BLURRED = 0.2
MOUTH_MIN_COLOUR_DIFFERENCE = 7.0
# Eyes shallower than this (L*, as at the reference lightness) give no depth to read
# the mouth's against: the mouth is then not judged.
MIN_EYE_DEPTH_L = 10.0
# Each part compared (the lips, the ring around them, the eyes, the under-eyes) holds at
# least this many canvas pixels, or the mouth is not judged.
MIN_COMPARED_PIXELS = 40
# The areas of a face (sent as a close-up) that a mask covers, in part at least.
MASKED_AREAS = frozenset({"left_cheek", "right_cheek", "chin"})
# A face cut by the photo's edge: the mesh model still places every landmark, those of
# the missing part beyond the edge (it completes the face's shape), so the share of
# landmarks outside the photo says how much of the face is missing. A landmark counts
# as outside past this share of the face's width beyond the edge (the mesh's jitter at
# an edge is about a pixel on a 92 px face).
CUT_EDGE_TOLERANCE_FRACTION = 0.01
# Over this share of the landmarks outside (5 of 468) the photo is face_cropped, and
# the regions with a landmark outside are not scored. A face near the edge but inside it
# has none or one outside; cropping through the forehead or chin puts 6 to 30 outside.
FACE_CROPPED_LANDMARK_SHARE = 0.01
# Over this share (47 of 468: a cheek and the forehead gone) nothing is scored: the face
# measures would describe whatever half of a face is left, not the face.
MAX_SCORED_CUT_LANDMARK_SHARE = 0.10
# The light's colour, read from the whites of the eyes: the sclera is near-white on
# every skin tone, so its colour in the photo is the light's (and the camera's white
# balance), not the person's. The brightest SCLERA_SHARE of the eyes' outlines is taken
# (the iris, pupil and lashes are darker), and its median log(R/B) (warm-cool) and
# log(G) - mean log(R, B) (green-magenta tint) compared with the portrait's in daylight
# (bench: the scikit-image astronaut, 0.25 and 0.00; a sclera is slightly warm, never
# grey). Gains of 5 % on R and B move log(R/B) by 0.08, and skin tone, exposure of
# +-10 % and JPEG quality 70 by at most 0.025. Past MAX_WARMTH_SHIFT a cast moves the
# colour measures more than a week's change of skin: cool 0.92/1.08 took 16 points off
# oiliness, warm 1.2/0.95/0.8 16 off redness. The hue angle of skin swings most on the
# tint axis (a 3 % magenta shift takes 9 points off redness), hence its tighter
# limit. Set on one portrait, these are heuristics: a sclera yellowed or reddened (age,
# irritation) can read as a cast, and then the colour measures are withheld, not guessed.
# The brightest quarter is the sclera only where one shows: narrow eyes, lids or glasses
# can leave it a few pixels, and the quarter is then lids and lashes, whose colour is
# the skin's (Grace Hopper's portrait, neutral light by its white shirt, read warmth
# 0.92 and tint -0.22 there and was colour_cast at every exposure). A sclera is near
# white, at least SCLERA_MIN_BRIGHTNESS_RATIO of the skin's median brightness
# (geometric mean of R, G, B): the astronaut's measures 0.92 (0.84 with lighter skin,
# 1.5 with darker, 0.92-0.95 under every cast and exposure of +-20 %); Grace Hopper's
# 0.44-0.58 under every cast and exposure. Without a sclera no cast is claimed, as
# with closed eyes.
# A channel at SCLERA_CLIPPED_LEVEL or above has lost the light's colour: in an
# over-exposed photo the whites clip to pure white, red first under a warm lamp, and
# read as less warm than they are. Only unclipped pixels are the sclera's sample, so a
# warm lamp on the astronaut (R x1.15, B x0.8 in linear light) is read the same at
# +15 % and +30 % exposure as at 0 (before, +0.13 fell to +0.09 and the cast went
# unseen), and a neutral photo with white-clipped whites stays neutral.
SCLERA_SHARE = 0.25
SCLERA_MIN_BRIGHTNESS_RATIO = 0.70
SCLERA_CLIPPED_LEVEL = 250
DAYLIGHT_SCLERA_WARMTH = 0.25
DAYLIGHT_SCLERA_TINT = 0.0
MAX_WARMTH_SHIFT = 0.12
MAX_TINT_SHIFT = 0.04
# A photo in one hue: a black-and-white, sepia or toned filter (or an old print), or a
# face that is not skin (a bronze or clay statue, a ball with eyes and a mouth drawn on,
# a pumpkin's face). Its colours are one tint scaled by the lightness, so the skin's
# colour is the filter's or the thing's, whether or not the whites of the eyes show
# (Grace Hopper's do not: her photo in sepia was scored, acceptable, pigmentation 40 ->
# 13). It is ONE_HUE and not scored at all (since dermalens-offline-heuristic-9): as a
# colour_cast, only the colour measures were withheld, and such things scored overall
# 95-96 on texture alone (a statue of either portrait, the ball, the pumpkin). Read
# inside the face's oval (skin, eyes, brows, lips), whatever is behind it: a plain wall
# of the skin's colour filling most of the canvas took the canvas's spreads below a
# tint's under a warm lamp.
# - the spread of the hue angle over the pixels with some colour (C* over
#   ONE_HUE_MIN_CHROMA): 6.1-12.4 degrees on four portraits (the astronaut, Grace
#   Hopper, the large and the phone portrait) under every exposure, skin tone, side
#   light and background tried, 4.4 reddened, 3.4-4.0 under a strong warm lamp (R x1.35,
#   B x0.65: a cast in any case); in five tints 0.1-2.2, and 3.6 in a tint too faint
#   for a hue, which the chromaticity finds.
# - the spread of the log chromaticity, log(R/G) and log(B/G) (robust standard
#   deviations, hypot): at least 0.079 on the portraits; black and white (15 % of the
#   colour left or less) 0-0.031, the tints 0.005-0.06. Faded to half its colour (a
#   camera's "muted" style), a photo measures 0.042-0.091 and is not flagged; to 30 %,
#   0.027-0.059.
# The statues, the ball and the pumpkin measure 0.006-0.027 and 0.07-1.1 degrees (a ball
# with a blush and colour noise 0.061 and 2.5); the portraits under the strongest lamps
# and white balances tried (R x1.5, B x0.5; R x0.7, B x1.4; green and magenta 10 %), at
# 0.5-1.3 exposure, with darker and more saturated skin (L* x0.35-0.6, saturation up
# to x1.5) and as the phone portrait at half its colour 0.042-1.4 and 3.4-24.8 degrees,
# none in one hue; at 30-40 % of their colour, or at half of it under a warm lamp, the
# astronaut's (0.027-0.034; 2.9 degrees) is, and is refused.
# Each spread alone is not enough:
# - a face under foundation evens the skin's colour: in mild warm light its hue's spread
#   fell to 2.4-2.9 degrees while its chromaticity's stayed 0.11-0.20, three times a
#   tint's; so the hue counts only with a chromaticity under ONE_HUE_HUE_TEST_MAX_CHROMATICITY
#   (every thing and tint above, 0.061 at most);
# - a muted photo in a dim tungsten room (the astronaut at half her colour) measured
#   0.034 with a hue's spread of 6.3 degrees, where black and white with 15 % of its
#   colour left measures 0.031 with 11.5 degrees: what tells them apart is how much colour
#   the face has, its median C* 8.3 against 5.6-5.9 (pale skin 10-14). Under
#   ONE_HUE_MAX_CHROMATICITY_SPREAD a face is in one hue when its colour is under
#   ONE_HUE_MIN_FACE_CHROMA or its hue's spread is under ONE_HUE_MUTED_MAX_HUE_SPREAD_DEG,
#   and always under ONE_HUE_ALWAYS_CHROMATICITY_SPREAD.
ONE_HUE_MAX_HUE_SPREAD_DEG = 3.0
ONE_HUE_HUE_TEST_MAX_CHROMATICITY = 0.07
ONE_HUE_MAX_CHROMATICITY_SPREAD = 0.04
ONE_HUE_ALWAYS_CHROMATICITY_SPREAD = 0.02
ONE_HUE_MIN_FACE_CHROMA = 7.0
ONE_HUE_MUTED_MAX_HUE_SPREAD_DEG = 5.0
ONE_HUE_MIN_CHROMA = 6.0
ONE_HUE_MIN_PIXELS = 200
ONE_HUE_STEP = 3
# Pixels this dark or this bright (the largest channel, of 255) have lost their colour to
# noise or clipping and are left out of both spreads.
ONE_HUE_LEVEL_RANGE = (40, 247)
# A close-up that shows skin is in one hue when the chromaticity's spread over its frame
# is under ONE_HUE_MAX_CHROMATICITY_SPREAD (the hue's is not read: skin alone is nearly
# one hue in any light, 2.5 degrees under a warm lamp). Cheeks of four portraits filling
# the frame, as JPEGs of quality 60 to 95: in colour 0.054-1.4 (reddened, darkened,
# dimmed, brightened, under warm and cool lamps); in five tints 0.004-0.030 (the sepia of
# quality 60 the most). With half their colour left (a "muted" style) they measure
# 0.027-0.081 and the paler are taken for a filter. A sepia cheek was scored, redness
# 96.5; it is ONE_HUE, as a face is, and not scored.

# Light that changes from the eyes down: the shadow of a cap's brim, a lamp above or below
# the face. Dark circles and eye bags read each under-eye against the cheek below it, and
# redness each pixel's a* against the light blurred around it, as if both were in one
# light: the astronaut with a brim's shadow (0.45 of the light, its edge just under the
# eyes) reads dark circles 17 instead of 91, Grace Hopper 4 instead of 76 and redness 14
# instead of 43. The light's change is read across the whole width of the face
# but the under-eyes themselves (the nose's bridge, the skin beside the eyes): row by row,
# the median of the vertical change of log2 of the light (L* as a cube root, over the
# face's skin-coloured pixels blurred LIGHT_STEP_SIGMA_PX), summed down the face; the step
# is the sum's mean over the cheeks' rows less its mean over the under-eyes' rows (stops).
# Darker under-eyes do not reach the row's median, and light from one side changes along
# the rows, not down them. The two 512 px portraits measure -0.22 to +0.03 as taken, lit
# from one side (0.25-0.4 of the light), at 0.6-1.3 exposure, before a window, with
# darker skin, a fringe or glasses' rims, and +0.05 with dark circles painted to 0.6 of
# the light; under a brim whose edge is just under the eyes, +0.38 and +0.63 at 0.45 of
# the light, +0.18 and +0.42 at 0.6, +0.01 and +0.22 at 0.75, -0.13 and +0.08 at 0.9.
LIGHT_STEP_SIGMA_PX = 2.0
MAX_LIGHT_STEP_STOPS = 0.15
# A row is read where this share of the blur's weight is skin, and with this many pixels.
LIGHT_STEP_MIN_WEIGHT = 0.9
LIGHT_STEP_MIN_ROW_PIXELS = 8

# A drawn face: its "skin" is flat paint between drawn lines, not skin. A photographed
# face's skin changes a little everywhere (texture, pores, the sensor's grain), so the
# quieter half of its pixels still changes a good share of what the rest does: the lower
# quartile of the grey level's gradient over the face's skin area (landmark regions,
# whatever their colour, but clipped white, which is flat in any photo) against its upper
# quartile. On the face canvas, the two portraits, the phone-sized and the large
# portrait measure 0.29-0.37 as taken and as JPEGs of quality 60-95, at 0.6 exposure, lit
# from one side, sharpened, with grain of sigma 2-5, with darker skin, a fringe or
# glasses' rims; 0.21-0.29 at 1.3 exposure and under a beauty filter's smoothing; but a
# phone's strong noise reduction in dim light (non-local means, h 10-35) takes Grace
# Hopper down to 0.14-0.20, and so does a cartoon filter: posterised to 2-5 levels a
# channel 0.05-0.22, through OpenCV's stylization 0.14-0.17. The two overlap, and a real
# photo taken for a drawing would leave its owner unmeasured, so only flat paint is
# refused: drawn faces, flat or airbrushed, measure 0 (posterised to a few colours by
# k-means, 0.02-0.11).
MIN_TONE_CONTINUITY = 0.06
MIN_TONE_PIXELS = 400


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    def slices(self, shape: tuple[int, ...]) -> tuple[slice, slice]:
        """Row and column slices of this box, clipped to an array of ``shape``."""
        top = min(max(round(self.y), 0), shape[0])
        left = min(max(round(self.x), 0), shape[1])
        bottom = min(max(round(self.y + self.h), top), shape[0])
        right = min(max(round(self.x + self.w), left), shape[1])
        return slice(top, bottom), slice(left, right)


@dataclass(frozen=True)
class FacePose:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    eye_openness: tuple[float, float]

    @property
    def turned(self) -> bool:
        return (
            abs(self.yaw_deg) > MAX_YAW_DEG
            or abs(self.pitch_deg) > MAX_PITCH_DEG
            or abs(self.roll_deg) > MAX_ROLL_DEG
        )

    @property
    def eyes_closed(self) -> bool:
        return min(self.eye_openness) < MIN_EYE_OPENNESS


@dataclass(frozen=True)
class Canvas:
    """A part of the photo at a fixed scale, with the face's layout on it."""

    box: Box  # the part of the photo, in the photo's pixels
    scale: float  # canvas px per photo px
    layout: FaceLayout | None  # None when the whole frame is measured
    points: np.ndarray | None = None  # the landmarks in canvas pixels


@dataclass(frozen=True)
class Examination:
    reasons: tuple[str, ...]  # QUALITY_REASONS codes, in the contract's order
    short_side_px: int
    # What light and focus were judged on: a face's skin and ``edge_sharpness`` in a
    # face, the frame's mean grey and ``sharpness`` elsewhere.
    mean_luma: float
    sharpness: float
    skin_fraction: float
    face_width_px: float | None  # in the photo's own pixels; None when no face was found
    pose: FacePose | None
    canvas: Canvas | None  # None when nothing was measured (no face)
    maps: PixelMaps | None
    detail: DetailMaps | None  # wrinkles and pores; None when the face is too small
    detail_canvas: Canvas | None
    cut_share: float = 0.0  # the share of the face's landmarks outside the photo
    cut_regions: tuple[str, ...] = ()  # regions with a landmark outside the photo

    @property
    def face_cut_off(self) -> bool:
        """Whether so much of the face is outside the photo that nothing is scored."""
        return self.cut_share > MAX_SCORED_CUT_LANDMARK_SHARE

    @property
    def judgeable(self) -> bool:
        """Whether any score may be given: a face (for a face scan) mostly in the photo
        and uncovered, enough skin, enough pixels."""
        return (
            self.maps is not None
            and "too_little_skin" not in self.reasons
            and self.short_side_px >= MIN_JUDGEABLE_SIDE_PX
            and not self.face_cut_off
            and FACE_COVERED not in self.reasons
            and NOT_A_PHOTO not in self.reasons
            and ONE_HUE not in self.reasons
        )


def examine_photo(image_jpeg: bytes, *, area: str) -> Examination:
    """Check the photo's quality and measure its skin; ``area`` "face" looks for a face."""
    width, height = photo_size(image_jpeg)
    reduction = reduction_for(max(width, height), MIN_DECODED_LONG_SIDE_PX)
    decoded = decode_image(image_jpeg, reduction=reduction)
    # The decoder's own size (EXIF orientation applied) is the photo's, ``reduction`` smaller.
    height, width = decoded.shape[0] * reduction, decoded.shape[1] * reduction
    working = resize_long_side(decoded, WORKING_LONG_SIDE_PX)
    gray = to_gray(working)
    frame = {
        "short_side_px": min(height, width),
        "mean_luma": float(gray.mean()),
        "sharpness": sharpness(gray),
    }
    # The frame's light and focus, for what is judged on the frame: a close-up of skin,
    # or a face scan in which no face was found.
    frame_reasons = set(exposure_reasons(frame["mean_luma"]))
    if frame["sharpness"] < BLURRY_LAPLACIAN_VARIANCE:
        frame_reasons.add("blurry")
    reasons = set()
    if min(height, width) < MIN_SHORT_SIDE_PX:
        reasons.add("too_small")
    if area != FACE_AREA:
        return _examine_close_up(working, width, area, reasons, frame_reasons, frame)

    found = find_face(cv2.cvtColor(working, cv2.COLOR_BGR2RGB))
    if found is None:
        reasons.add("no_face")
        reasons.update(frame_reasons)
        return Examination(
            reasons=_ordered(reasons),
            skin_fraction=0.0,
            face_width_px=None,
            pose=None,
            canvas=None,
            maps=None,
            detail=None,
            detail_canvas=None,
            **frame,
        )
    if found.other_faces:
        reasons.add(SEVERAL_FACES)
    landmarks = found.scaled(width / working.shape[1])
    yaw, pitch, roll = landmarks.pose_deg()
    pose = FacePose(yaw, pitch, roll, landmarks.eye_openness())
    if pose.turned:
        reasons.add("face_turned")
    outside = _outside_photo(landmarks, width, height)
    cut_share = float(outside.mean())
    if cut_share > FACE_CROPPED_LANDMARK_SHARE:
        reasons.add("face_cropped")
    cut_regions = _regions_cut(outside)
    face_width = landmarks.width_px
    detail_wanted = face_width >= MIN_DETAIL_FACE_WIDTH_PX and not pose.turned
    source = _source_for(image_jpeg, decoded, reduction, width, face_width, FACE_CANVAS_WIDTH_PX)
    canvas, pixels = _face_canvas(source, source.shape[1] / width, landmarks, FACE_CANVAS_WIDTH_PX)
    reasons.update(_artefact_reasons(source, source.shape[1] / width, canvas))
    layout = canvas.layout
    if layout is None:
        raise AssertionError("unreachable: a face canvas has the face's layout")
    light_and_focus, judged = _face_light_and_focus(
        source, source.shape[1] / width, landmarks, layout, pixels, frame["mean_luma"]
    )
    reasons.update(light_and_focus)
    maps = measure_pixels(pixels, layout.skin_area, layout.core_area)
    skin_fraction = float(maps.skin.sum() / max(layout.skin_area.sum(), 1))
    if skin_fraction < MIN_FACE_SKIN_FRACTION:
        reasons.add("too_little_skin")
    if _clipped(maps):
        reasons.add("too_bright")
    eyes_hidden = pose.eyes_closed or _eyes_hidden(maps, canvas)
    if eyes_hidden:
        reasons.add("eyes_hidden")
    if _mouth_covered(maps, canvas, outside, blurred="blurry" in reasons and eyes_hidden):
        # Whatever its colour, a mask is not the person's skin, and the skin model,
        # sampled from the cheeks and nose, took it for theirs: a pink one read as
        # severe redness, the others as skin.
        reasons.add(FACE_COVERED)
    colour = _colour_reason(pixels, canvas, maps, eyes_readable=not eyes_hidden)
    if colour is not None:
        reasons.add(colour)
    if colour == ONE_HUE:
        # Skin is found by its colour: in one hue, too little of it is the filter's (or
        # the statue's) doing, and closer would not help.
        reasons.discard("too_little_skin")
    # A blur spreads the eyes' and brows' dark into the rows around them (Grace Hopper's
    # face blurred measured 0.2): a blurry photo is retaken for its blur.
    if "blurry" not in reasons and light_step_below_eyes(maps, layout) > MAX_LIGHT_STEP_STOPS:
        reasons.add(UNEVEN_LIGHT)
    _judge_as_photo(reasons, pixels, layout.skin_area & ~maps.colour_clipped)
    detail = detail_canvas = None
    if detail_wanted:
        fine = source
        if face_width * source.shape[1] / width < DETAIL_CANVAS_WIDTH_PX:
            fine = decode_image(
                image_jpeg, reduction=reduction_for_face(face_width, DETAIL_CANVAS_WIDTH_PX)
            )
        detail_canvas, detail_pixels = _face_canvas(
            fine, fine.shape[1] / width, landmarks, DETAIL_CANVAS_WIDTH_PX
        )
        skin = cv2.resize(
            maps.skin.astype(np.float32),
            detail_pixels.shape[1::-1],
            interpolation=cv2.INTER_LINEAR,
        )
        if detail_canvas.layout is None:
            raise AssertionError("unreachable: a face canvas has the face's layout")
        detail = measure_detail(detail_pixels, detail_canvas.layout, skin > 0.5)
        reasons.update(_artefact_reasons(fine, fine.shape[1] / width, detail_canvas))
    return Examination(
        reasons=_ordered(reasons),
        skin_fraction=skin_fraction,
        face_width_px=face_width,
        pose=pose,
        canvas=canvas,
        maps=maps,
        detail=detail,
        detail_canvas=detail_canvas,
        cut_share=cut_share,
        cut_regions=cut_regions,
        **{**frame, **judged},
    )


def _outside_photo(landmarks: FaceLandmarks, width: int, height: int) -> np.ndarray:
    """Which landmarks lie outside the photo (``width`` x ``height``), beyond the tolerance."""
    tolerance = CUT_EDGE_TOLERANCE_FRACTION * landmarks.width_px
    x, y = landmarks.points[:, 0], landmarks.points[:, 1]
    return cast(
        np.ndarray,
        (x < -tolerance) | (y < -tolerance) | (x > width + tolerance) | (y > height + tolerance),
    )


def _source_for(
    image_jpeg: bytes,
    decoded: np.ndarray,
    reduction: int,
    width: int,
    face_width: float,
    needed_px: int,
) -> np.ndarray:
    """The first decode, or a finer one when a canvas would enlarge the face in it more
    than MAX_CANVAS_ENLARGEMENT times."""
    if face_width * decoded.shape[1] / width * MAX_CANVAS_ENLARGEMENT >= needed_px:
        return decoded
    finer = reduction_for_face(face_width, needed_px)
    return decoded if finer >= reduction else decode_image(image_jpeg, reduction=finer)


def reduction_for_face(face_width_px: float, needed_px: float) -> int:
    """The largest decode reduction that keeps the face at least ``needed_px`` wide."""
    return max((r for r in (1, 2, 4, 8) if face_width_px / r >= needed_px), default=1)


def _examine_close_up(
    working: np.ndarray,
    width: int,
    area: str,
    reasons: set[str],
    frame_reasons: set[str],
    frame: dict[str, Any],
) -> Examination:
    """A close-up of one area: the whole frame, if it shows skin. A whole face in the
    frame (a selfie sent as the forehead, a cheek or the chin) is measured in that area
    of it alone: over the whole frame its eyes, brows and nostrils were dark spots
    (pigmentation 2.5-38 against 92 as a face)."""
    found = find_face(cv2.cvtColor(working, cv2.COLOR_BGR2RGB))
    if found is not None and area in REGION_POLYGONS:
        return _examine_area_of_face(working, width, found, area, reasons, frame)
    reasons.update(frame_reasons)
    pixels = resize_long_side(working, FRAME_CANVAS_LONG_SIDE_PX, upscale=True)
    not_the_face = None
    if found is not None:
        # The neck or the body with a face in the frame: the face is not that area.
        on_frame = found.scaled(pixels.shape[1] / working.shape[1])
        not_the_face = ~polygon_mask(on_frame.points, FACE_OVAL, pixels.shape)
    maps = measure_pixels(pixels, not_the_face, None, spot_scale=CLOSE_UP_SPOT_SCALE)
    skin_fraction = float(maps.skin.mean())
    if not _shows_skin(pixels, maps, skin_fraction):
        reasons.add("too_little_skin")
    elif _close_up_in_one_hue(pixels, maps):
        reasons.add(ONE_HUE)
    box = Box(0, 0, width, width * working.shape[0] / working.shape[1])
    return Examination(
        reasons=_ordered(reasons),
        skin_fraction=skin_fraction,
        face_width_px=None,
        pose=None,
        canvas=Canvas(box=box, scale=pixels.shape[1] / width, layout=None),
        maps=maps,
        detail=None,
        detail_canvas=None,
        **frame,
    )


def _examine_area_of_face(
    working: np.ndarray,
    width: int,
    found: FaceLandmarks,
    area: str,
    reasons: set[str],
    frame: dict[str, Any],
) -> Examination:
    """``area`` (a region of the face) of the face ``found`` in the ``working`` copy of a
    close-up, measured on the face's canvas as a face scan measures that region, and
    judged as a face scan is: a second face, a face on its side or upside down, and the
    noise or JPEG blocks on the face's canvas are reasons here too (a noisy selfie sent
    as a cheek read its grain as blemishes: acne 92 to 2). A head turned or tilted back
    is not: people turn to show a cheek and tilt back to show the chin."""
    landmarks = found.scaled(width / working.shape[1])
    if found.other_faces:
        reasons.add(SEVERAL_FACES)
    pose = FacePose(*landmarks.pose_deg(), landmarks.eye_openness())
    if abs(pose.roll_deg) > MAX_ROLL_DEG:
        reasons.add("face_turned")
    canvas, pixels = _face_canvas(
        working, working.shape[1] / width, landmarks, FACE_CANVAS_WIDTH_PX
    )
    reasons.update(_artefact_reasons(working, working.shape[1] / width, canvas))
    layout = canvas.layout
    if layout is None:
        raise AssertionError("unreachable: a face canvas has the face's layout")
    light_and_focus, judged = _face_light_and_focus(
        working, working.shape[1] / width, landmarks, layout, pixels, frame["mean_luma"]
    )
    reasons.update(light_and_focus)
    region = layout.regions[area]
    maps = measure_pixels(pixels, region, layout.core_area)
    skin_fraction = float(maps.skin.sum() / max(region.sum(), 1))
    height = round(width * working.shape[0] / working.shape[1])
    outside = _outside_photo(landmarks, width, height)
    if _clipped(maps):
        reasons.add("too_bright")
    if area in _regions_cut(outside) or skin_fraction < MIN_FACE_SKIN_FRACTION:
        reasons.add("too_little_skin")
    else:
        eyes_readable = not (pose.eyes_closed or _eyes_hidden(maps, canvas))
        if area in MASKED_AREAS and _mouth_covered(
            maps, canvas, outside, blurred="blurry" in reasons and not eyes_readable
        ):
            # A masked face sent as its chin: a pink mask read as redness 4.
            reasons.add(FACE_COVERED)
        elif colour := _colour_reason(pixels, canvas, maps, eyes_readable=eyes_readable):
            reasons.add(colour)
        _judge_as_photo(reasons, pixels, layout.skin_area & ~maps.colour_clipped)
    return Examination(
        reasons=_ordered(reasons),
        skin_fraction=skin_fraction,
        face_width_px=landmarks.width_px,
        pose=None,
        canvas=Canvas(box=canvas.box, scale=canvas.scale, layout=None),
        maps=maps,
        detail=None,
        detail_canvas=None,
        **{**frame, **judged},
    )


def _face_light_and_focus(
    source: np.ndarray,
    source_factor: float,
    landmarks: FaceLandmarks,
    layout: FaceLayout,
    pixels: np.ndarray,
    frame_luma: float,
) -> tuple[set[str], dict[str, float]]:
    """Whether the face (not the frame around it) is too dark, too bright or blurry,
    and what that was judged on: its skin's mean grey and its brightest part on the face
    canvas (``pixels``, ``layout``), and the focus of the face cut from ``source`` (the
    photo scaled by ``source_factor``) at FACE_FOCUS_WIDTH_PX, eyes, brows and lips
    included."""
    grey = to_gray(pixels)
    skin = layout.skin_area
    skin_luma = float(grey[skin].mean()) if skin.any() else frame_luma
    brightest = float(np.percentile(grey[layout.oval], 99)) if layout.oval.any() else skin_luma
    reasons = set(face_exposure_reasons(skin_luma, brightest, frame_luma))
    focus_canvas, focus_pixels = _face_canvas(
        source, source_factor, landmarks, round(min(FACE_FOCUS_WIDTH_PX, landmarks.width_px))
    )
    if focus_canvas.layout is None:
        raise AssertionError("unreachable: a face canvas has the face's layout")
    focus = edge_sharpness(to_gray(focus_pixels), focus_canvas.layout.oval)
    if focus < BLURRY_FACE_EDGE_RATIO:
        reasons.add("blurry")
    return reasons, {"mean_luma": skin_luma, "sharpness": focus}


def light_step_below_eyes(maps: PixelMaps, layout: FaceLayout) -> float:
    """How much more light (stops) falls on the cheeks' rows than on the under-eyes' rows,
    read across the face's skin but the under-eyes (see MAX_LIGHT_STEP_STOPS); 0 when too
    little of the face shows to tell."""
    under_eyes = layout.union(UNDER_EYES)
    eye_rows = np.flatnonzero(under_eyes.any(axis=1))
    cheek_rows = np.flatnonzero(layout.union(CHEEKS).any(axis=1))
    if eye_rows.size == 0 or cheek_rows.size == 0:
        return 0.0
    # Only the band from the under-eyes to the cheeks' foot is read, with room for the blur.
    reach = round(3 * LIGHT_STEP_SIGMA_PX) + 1
    top = max(min(eye_rows[0], cheek_rows[0]) - reach, 0)
    bottom = min(max(eye_rows[-1], cheek_rows[-1]) + reach + 1, under_eyes.shape[0])
    band = slice(top, bottom)
    # Skin-coloured as if evenly lit: a shadow stays in, glasses' rims and hair stay out.
    kept = layout.skin_area[band] & maps.even_skin_colour[band] & ~under_eyes[band]
    weight = kept.astype(np.float32)
    stops = 3.0 * np.log2((np.maximum(maps.lightness[band], 0.0) + 16.0) / 116.0)
    around = cv2.GaussianBlur(weight, (0, 0), LIGHT_STEP_SIGMA_PX)
    smooth = cv2.GaussianBlur(stops * weight, (0, 0), LIGHT_STEP_SIGMA_PX) / np.maximum(
        around, 1e-3
    )
    change = np.zeros_like(smooth)
    change[1:-1] = (smooth[2:] - smooth[:-2]) / 2.0
    read = kept & (around > LIGHT_STEP_MIN_WEIGHT)
    # Each row's median over its read pixels, at once (0 for a row with too few of them).
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with nothing read
        medians = np.nanmedian(np.where(read, change, np.nan), axis=1)
    per_row = np.where(read.sum(axis=1) >= LIGHT_STEP_MIN_ROW_PIXELS, medians, 0.0)
    profile = np.cumsum(per_row.astype(np.float32))
    return float(profile[cheek_rows - top].mean() - profile[eye_rows - top].mean())


def tone_continuity(pixels: np.ndarray, skin_area: np.ndarray) -> float | None:
    """The lower quartile of the grey level's gradient over ``skin_area`` of the canvas
    (BGR ``pixels``) against its upper quartile (see MIN_TONE_CONTINUITY); None when the
    area is too small to tell."""
    if skin_area.sum() < MIN_TONE_PIXELS:
        return None
    grey = to_gray(pixels).astype(np.float32)
    change = np.hypot(
        cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    )[skin_area]
    lower, upper = np.percentile(change, (25, 75))
    return float(lower / upper) if upper > 0 else 0.0


def _judge_as_photo(reasons: set[str], pixels: np.ndarray, skin_area: np.ndarray) -> None:
    """Add NOT_A_PHOTO to ``reasons`` when the face is drawn or cartoon-filtered. A
    drawing's paint reads as a lamp's colour, one hue or a shadow's edge, and their notes
    (retake it in daylight, without a hat) would not help: those reasons give way to it. A face
    covered by a mask is not judged: the cloth is as flat as paint over half the skin."""
    if FACE_COVERED in reasons:
        return
    continuity = tone_continuity(pixels, skin_area)
    if continuity is not None and continuity < MIN_TONE_CONTINUITY:
        reasons.add(NOT_A_PHOTO)
        reasons.difference_update({COLOUR_CAST, ONE_HUE, UNEVEN_LIGHT})


def _regions_cut(outside: np.ndarray) -> tuple[str, ...]:
    """The regions of the face with a landmark ``outside`` the photo."""
    return tuple(name for name, polygon in REGION_POLYGONS.items() if outside[list(polygon)].any())


def _colour_reason(
    pixels: np.ndarray, canvas: Canvas, maps: PixelMaps, *, eyes_readable: bool
) -> str | None:
    """ONE_HUE when the face is in one hue (a filter's tint, a statue), else COLOUR_CAST
    when its eyes can be read and the whites of its eyes show a coloured lamp; None when
    its colour can be taken for the skin's."""
    if canvas.layout is None:
        raise AssertionError("unreachable: a face canvas has the face's layout")
    if _in_one_hue(pixels, canvas.layout.oval, maps):
        return ONE_HUE
    if eyes_readable and _colour_cast(pixels, canvas, maps.skin):
        return COLOUR_CAST
    return None


def _clipped(maps: PixelMaps) -> bool:
    """Whether the measured skin clipped white over more than MAX_CLIPPED_SKIN_SHARE."""
    return bool((maps.skin & maps.colour_clipped).sum() > MAX_CLIPPED_SKIN_SHARE * maps.skin.sum())


def _eyes_hidden(maps: PixelMaps, canvas: Canvas) -> bool:
    """Whether either eye is closed or covered, judged by what lies inside its outline."""
    points = canvas.points
    if points is None:
        raise AssertionError("unreachable: a face canvas has the landmarks")
    skin_lightness = (
        float(np.median(maps.even_lightness[maps.skin])) if maps.skin.any() else REFERENCE_LIGHTNESS
    )
    for eye in ("right_eye", "left_eye"):
        inside = polygon_mask(points, NOT_SKIN[eye], maps.skin.shape)
        if inside.sum() < MIN_EYE_PIXELS:
            continue
        lightness = maps.even_lightness[inside]
        spread = float(np.percentile(lightness, 95) - np.percentile(lightness, 5))
        lid_like = maps.even_skin_colour[inside] & (
            lightness - skin_lightness <= EYE_LID_BRIGHTER_MAX
        )
        skin_share = float(lid_like.mean())
        if skin_share >= EYE_HIDDEN_SKIN_SHARE or spread < EYE_MIN_LIGHTNESS_RANGE:
            return True
    return False


def _mouth_covered(maps: PixelMaps, canvas: Canvas, outside: np.ndarray, *, blurred: bool) -> bool:
    """Whether the mouth is covered, judged by what lies inside the lips' outline
    against the skin right around it and against the eyes (see MOUTH_MAX_DEPTH_SHARE);
    not judged when a lip landmark is ``outside`` the photo. ``blurred``: a photo so
    blurry that its eyes cannot be read."""
    if canvas.points is None or canvas.layout is None:
        raise AssertionError("unreachable: a face canvas has the landmarks and layout")
    if outside[list(NOT_SKIN["lips"])].any():
        return False
    shape = maps.lightness.shape
    lips = polygon_mask(canvas.points, NOT_SKIN["lips"], shape)
    columns = np.flatnonzero(lips.any(axis=0))
    if columns.size == 0:
        return False
    reach = max(2, round(MOUTH_RING_SHARE * (columns[-1] - columns[0] + 1)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    near = cv2.dilate(lips.astype(np.uint8), kernel) > 0
    beside = cv2.dilate(lips.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    nostrils = polygon_mask(canvas.points, NOT_SKIN["nostrils"], shape)
    ring = near & ~beside & ~nostrils & canvas.layout.oval
    eyes = _eye_outlines(canvas.points, shape)
    under_eyes = canvas.layout.union(UNDER_EYES)
    if any(part.sum() < MIN_COMPARED_PIXELS for part in (lips, ring, eyes, under_eyes)):
        return False
    eye_depth = _depth(maps, eyes, under_eyes)
    if eye_depth < MIN_EYE_DEPTH_L:
        return False
    return (
        _depth(maps, lips, ring)
        < (MOUTH_MAX_DEPTH_SHARE_BLURRED if blurred else MOUTH_MAX_DEPTH_SHARE) * eye_depth
        and _colour_difference(maps, lips, ring) < MOUTH_MIN_COLOUR_DIFFERENCE
    )


def _eye_outlines(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Both eyes' outlines (NOT_SKIN's, no margin) as one mask on a canvas of ``shape``."""
    eyes = polygon_mask(points, NOT_SKIN["right_eye"], shape)
    eyes |= polygon_mask(points, NOT_SKIN["left_eye"], shape)
    return eyes


def _depth(maps: PixelMaps, part: np.ndarray, around: np.ndarray) -> float:
    """How much darker the darkest twentieth of ``part`` is than the median of what lies
    ``around`` it (L*, as at REFERENCE_LIGHTNESS)."""
    around_lightness = float(np.median(maps.lightness[around]))
    darkest = float(np.percentile(maps.lightness[part], 5))
    return (around_lightness - darkest) * to_reference(around_lightness)


def _colour_difference(maps: PixelMaps, part: np.ndarray, around: np.ndarray) -> float:
    """The distance between the median a*, b* of ``part`` and of what lies ``around`` it
    (as at REFERENCE_LIGHTNESS)."""
    difference = np.hypot(
        np.median(maps.a_star[part]) - np.median(maps.a_star[around]),
        np.median(maps.b_star[part]) - np.median(maps.b_star[around]),
    )
    return float(difference) * to_reference(float(np.median(maps.lightness[around])))


def _artefact_reasons(source: np.ndarray, source_factor: float, canvas: Canvas) -> set[str]:
    """Noise (a sensor's grain, a screen's pixel grid) and JPEG blocks in the part of
    ``source`` (the photo scaled by ``source_factor``) that ``canvas`` was cut from, as
    the canvas reads them: grain averages down in proportion when the canvas shrinks the
    face, and JPEG's blocks are 8 px of the photo, 8 times the factor in ``source``
    (decoded smaller)."""
    box = canvas.box
    part = to_gray(
        source[
            Box(*(value * source_factor for value in (box.x, box.y, box.w, box.h))).slices(
                source.shape
            )
        ]
    )
    reasons = set()
    grainy = grain(part) * min(1.0, canvas.scale / source_factor) > MAX_GRAIN_GREY_LEVELS
    if grainy or periodicity(part) > MAX_PERIODICITY:
        reasons.add(NOISY)
    if blockiness(part, round(JPEG_BLOCK_PX * source_factor)) > MAX_BLOCKINESS:
        reasons.add(COMPRESSED)
    return reasons


def _colour_cast(pixels: np.ndarray, canvas: Canvas, skin: np.ndarray) -> bool:
    """Whether the whites of the eyes show a colour cast (lamp light, a white balance
    off) past what the colour measures tolerate. Only asked of open eyes whose whites
    show (brighter than the ``skin`` pixels' median allows a lid to be): without them
    the light's colour cannot be told from the skin's, and no cast is claimed."""
    points = canvas.points
    if points is None:
        raise AssertionError("unreachable: a face canvas has the landmarks")
    inside = _eye_outlines(points, pixels.shape)
    if inside.sum() < 2 * MIN_EYE_PIXELS:
        return False
    eyes = pixels[inside]
    eyes = eyes[eyes.max(axis=1) < SCLERA_CLIPPED_LEVEL]
    if len(eyes) < MIN_EYE_PIXELS:
        return False  # whites clipped throughout: the light's colour is lost
    # + 0.5: a channel at 0 has a finite logarithm.
    colours = np.log(eyes.astype(np.float32) + 0.5)
    brightness = colours.mean(axis=1)
    brightest = brightness >= np.quantile(brightness, 1 - SCLERA_SHARE)
    if not skin.any():
        return False
    skin_brightness = float(np.median(np.log(pixels[skin].astype(np.float32) + 0.5).mean(axis=1)))
    if float(np.median(brightness[brightest])) - skin_brightness < np.log(
        SCLERA_MIN_BRIGHTNESS_RATIO
    ):
        return False
    blue, green, red = colours[brightest].T
    warmth = float(np.median(red - blue)) - DAYLIGHT_SCLERA_WARMTH
    tint = float(np.median(green - (red + blue) / 2)) - DAYLIGHT_SCLERA_TINT
    return abs(warmth) > MAX_WARMTH_SHIFT or abs(tint) > MAX_TINT_SHIFT


def _in_one_hue(pixels: np.ndarray, face: np.ndarray, maps: PixelMaps) -> bool:
    """Whether the ``face`` (its oval) in its canvas (BGR ``pixels``, their ``maps``) is
    in one hue: a black-and-white, sepia or toned photo, whose colour is the filter's, not
    the skin's."""
    spreads = _colour_spreads(pixels, maps, face)
    if spreads is None:
        return False  # too dark or too bright to tell: those reasons say so
    return spreads_in_one_hue(*spreads)


def spreads_in_one_hue(chromaticity: float, hue_deg: float | None, face_chroma: float) -> bool:
    """Whether a face's colour spreads (``_colour_spreads``) are one hue's."""
    if hue_deg is None or chromaticity < ONE_HUE_ALWAYS_CHROMATICITY_SPREAD:
        return chromaticity < ONE_HUE_MAX_CHROMATICITY_SPREAD
    if chromaticity < ONE_HUE_MAX_CHROMATICITY_SPREAD:
        return face_chroma < ONE_HUE_MIN_FACE_CHROMA or hue_deg < ONE_HUE_MUTED_MAX_HUE_SPREAD_DEG
    return chromaticity < ONE_HUE_HUE_TEST_MAX_CHROMATICITY and hue_deg < ONE_HUE_MAX_HUE_SPREAD_DEG


def _colour_spreads(
    pixels: np.ndarray, maps: PixelMaps, within: np.ndarray
) -> tuple[float, float | None, float] | None:
    """The spread of the log chromaticity and of the hue angle (degrees; None when too
    few pixels have a colour), and the median C*, of the pixels ``within`` neither too
    dark nor too bright to keep their colour (None when too few are)."""
    # Every third pixel each way: a ninth of the cost, and the same spreads to 0.002 and
    # 0.03 degrees on the portraits, tinted and under a lamp.
    step = (slice(None, None, ONE_HUE_STEP), slice(None, None, ONE_HUE_STEP))
    sample = pixels[step]
    level = sample.max(axis=2)
    kept = within[step] & (level >= ONE_HUE_LEVEL_RANGE[0]) & (level <= ONE_HUE_LEVEL_RANGE[1])
    if kept.sum() < ONE_HUE_MIN_PIXELS:
        return None
    blue, green, red = np.log(sample[kept].astype(np.float32) + 1.0).T
    chromaticity = float(np.hypot(_robust_std(red - green), _robust_std(blue - green)))
    a_star, b_star = maps.a_star[step][kept], maps.b_star[step][kept]
    chroma = np.hypot(a_star, b_star)
    median_chroma = float(np.median(chroma))
    coloured = chroma > ONE_HUE_MIN_CHROMA
    if coloured.sum() < ONE_HUE_MIN_PIXELS:
        return chromaticity, None, median_chroma
    # Angles about their mean direction, so that a hue near 180 degrees does not wrap.
    a_star, b_star, chroma = a_star[coloured], b_star[coloured], chroma[coloured]
    centre = np.arctan2(np.mean(b_star / chroma), np.mean(a_star / chroma))
    about_mean = (np.arctan2(b_star, a_star) - centre + np.pi) % (2 * np.pi) - np.pi
    return chromaticity, _robust_std(np.degrees(about_mean)), median_chroma


def _close_up_in_one_hue(pixels: np.ndarray, maps: PixelMaps) -> bool:
    """Whether a close-up that shows skin is in one hue (a sepia or toned filter). Asked
    only of skin: a grey or white thing photographed in colour is in one hue as well,
    and the filter's note would mislead."""
    spreads = _colour_spreads(pixels, maps, np.ones(pixels.shape[:2], dtype=bool))
    return spreads is not None and spreads[0] < ONE_HUE_MAX_CHROMATICITY_SPREAD


def _shows_skin(pixels: np.ndarray, maps: PixelMaps, skin_fraction: float) -> bool:
    if skin_fraction < CLOSE_UP_MIN_SKIN_FRACTION:
        return False
    skin = maps.skin
    calm = skin & (maps.red_patch < 0.5) & (maps.blemish < 0.5)
    between = calm if calm.sum() * 2 >= skin.sum() else skin
    chroma_spread = float(
        np.hypot(_robust_std(maps.a_star[between]), _robust_std(maps.b_star[between]))
    )
    texture = float(np.median(maps.texture[skin]))
    _, green, red = np.median(pixels[skin], axis=0)
    return (
        chroma_spread <= CLOSE_UP_MAX_CHROMA_SPREAD
        and texture <= CLOSE_UP_MAX_TEXTURE_PCT
        and green >= CLOSE_UP_MIN_GREEN_TO_RED * red
        and _robust_std(maps.lightness[skin]) <= CLOSE_UP_MAX_LIGHTNESS_SPREAD
        and _few_step_edges(maps.lightness, skin)
    )


def _few_step_edges(lightness: np.ndarray, skin: np.ndarray) -> bool:
    across_skin, anywhere = long_step_edges(lightness, skin)
    return across_skin <= CLOSE_UP_MAX_STEP_EDGES and anywhere <= CLOSE_UP_MAX_ALL_STEP_EDGES


def long_step_edges(lightness: np.ndarray, skin: np.ndarray) -> tuple[float, float]:
    """How much of the canvas long step edges cross, in canvas long sides (see
    CLOSE_UP_MAX_STEP_EDGES): Canny's edges of the smoothed L*, kept where the L* a
    reach away on either side differs by CLOSE_UP_STEP_MIN_L at every reach, in
    connected lines at least CLOSE_UP_STEP_MIN_EXTENT long. Two measures: of the edges
    with skin-coloured pixels on both sides (``skin``), and of all of them (the skin's
    own outline against a wall or a sleeve too)."""
    smooth = cv2.GaussianBlur(lightness, (0, 0), CLOSE_UP_STEP_SMOOTHING_SIGMA_PX)
    # Canny reads 8-bit levels through a 3 x 3 Sobel, whose answer to a slope of one
    # level per pixel is 8: L* (0-100) is 2.55 levels per unit.
    low, high = (value * 2.55 * 8 for value in CLOSE_UP_STEP_EDGE_L_PER_PX)
    levels = np.clip(smooth * 2.55, 0, 255).astype(np.uint8)
    rows, cols = np.nonzero(cv2.Canny(levels, low, high, L2gradient=True))
    if rows.size == 0:
        return 0.0, 0.0
    along_x = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)[rows, cols]
    along_y = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)[rows, cols]
    norm = np.maximum(np.hypot(along_x, along_y), 1e-6)
    across_x, across_y = along_x / norm, along_y / norm
    height, width = smooth.shape

    def at(values: np.ndarray, reach: float) -> np.ndarray:
        x = np.clip(np.rint(cols + reach * across_x).astype(int), 0, width - 1)
        y = np.clip(np.rint(rows + reach * across_y).astype(int), 0, height - 1)
        return cast(np.ndarray, values[y, x])

    # The least difference over the reaches: a second line nearby (strands of hair side
    # by side) falls at one reach, the far side of a step at all of them.
    reaches = CLOSE_UP_STEP_REACHES_PX
    step = np.min([np.abs(at(smooth, r) - at(smooth, -r)) for r in reaches], axis=0)
    on_skin = np.all([at(skin, r) & at(skin, -r) for r in reaches], axis=0)
    steps = step >= CLOSE_UP_STEP_MIN_L
    long_side = max(height, width)

    def long_lines(kept: np.ndarray) -> float:
        edges = np.zeros(smooth.shape, dtype=np.uint8)
        edges[rows[kept], cols[kept]] = 1
        _, _, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
        extent = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT])
        lines = stats[1:, cv2.CC_STAT_AREA][extent >= CLOSE_UP_STEP_MIN_EXTENT * long_side]
        return float(lines.sum() / long_side)

    return long_lines(steps & on_skin), long_lines(steps)


def _face_canvas(
    source: np.ndarray, source_factor: float, landmarks: FaceLandmarks, face_canvas_px: int
) -> tuple[Canvas, np.ndarray]:
    """The face cut from ``source`` (the photo scaled by ``source_factor``) so that it is
    ``face_canvas_px`` wide, with its layout."""
    points = landmarks.points[:, :2]
    margin = FACE_CANVAS_MARGIN_FRACTION * landmarks.width_px
    low = np.maximum(points.min(axis=0) - margin, 0)
    photo_size_px = np.array(source.shape[1::-1]) / source_factor
    high = np.minimum(points.max(axis=0) + margin, photo_size_px)
    box = Box(float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1]))
    scale = face_canvas_px / landmarks.width_px  # canvas px per photo px
    in_source = Box(*(value * source_factor for value in (box.x, box.y, box.w, box.h)))
    rows, cols = in_source.slices(source.shape)
    part = source[rows, cols]
    factor = scale / source_factor
    size = (max(16, round(part.shape[1] * factor)), max(16, round(part.shape[0] * factor)))
    # INTER_AREA averages what it drops (no aliasing) but is slow for a slight shrink,
    # where bilinear loses nothing that matters.
    interpolation = cv2.INTER_AREA if factor < SLIGHT_SHRINK_FACTOR else cv2.INTER_LINEAR
    pixels = cv2.resize(part, size, interpolation=interpolation)
    # Where the cut really starts (rounded to source pixels), in photo pixels.
    start_x, start_y = cols.start / source_factor, rows.start / source_factor
    actual_scale = pixels.shape[1] / (part.shape[1] / source_factor)
    on_canvas = landmarks.scaled(actual_scale, dx=-start_x, dy=-start_y)
    layout = face_layout(
        on_canvas.points, pixels.shape, face_width_px=landmarks.width_px * actual_scale
    )
    canvas_box = Box(start_x, start_y, part.shape[1] / source_factor, part.shape[0] / source_factor)
    canvas = Canvas(box=canvas_box, scale=actual_scale, layout=layout, points=on_canvas.points)
    return canvas, pixels


def _ordered(reasons: set[str]) -> tuple[str, ...]:
    return tuple(reason for reason in QUALITY_REASONS if reason in reasons)


def _robust_std(values: np.ndarray) -> float:
    if values.size == 0:
        return 0.0
    median = np.median(values)
    return float(1.4826 * np.median(np.abs(values - median)))
